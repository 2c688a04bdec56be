//! What the journal and snapshots hold, and how it is framed on disk.
//!
//! Every change is written as its **post-image**: the state it left behind (a key's new value
//! and expiry, a dictionary's changed fields), never the operation that made it. Replaying a
//! record therefore needs no condition to be evaluated again, and replaying it over a state
//! that already contains it changes nothing; that is what lets a snapshot be taken while
//! writes go on (see `snapshot.rs`).
//!
//! A file is a header ([`MAGIC_JOURNAL`] or [`MAGIC_SNAPSHOT`], then the format version as a
//! little-endian `u32`) followed by frames: `len: u32 LE | crc32(payload): u32 LE | payload`,
//! the payload a [`Record`] in postcard. Expiry times are Unix milliseconds, so they mean the
//! same after a restart.

use serde::{Deserialize, Serialize};
use serde_bytes::Bytes;

use crate::message::{Message, Value};

/// The on-disk format this build writes and reads. A file with a higher version was written by
/// a newer build and is refused. Version 2: journal segments reserve their disk space ahead,
/// so a segment's records may be followed by zeros (read as the end of the records); version
/// 1 files read the same way.
pub(crate) const FORMAT_VERSION: u32 = 2;
/// First bytes of a journal segment.
pub(crate) const MAGIC_JOURNAL: &[u8; 8] = b"LMJRNL\r\n";
/// First bytes of a snapshot.
pub(crate) const MAGIC_SNAPSHOT: &[u8; 8] = b"LMSNAP\r\n";
/// Bytes of a file header: magic and version.
pub(crate) const HEADER_BYTES: usize = 12;
/// Bytes of a frame header: length and checksum.
pub(crate) const FRAME_HEADER_BYTES: usize = 8;
/// Largest payload a frame may declare: a 5 MB item with its key and names, with room to
/// spare. A larger length can only be damage.
pub(crate) const MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;

/// One change (journal) or one piece of state (snapshot).
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Record<'a> {
    /// A cache exists, with the id ListCaches reports.
    CreateCache {
        /// Its name.
        name: &'a str,
        /// Its id.
        id: &'a str,
    },
    /// A cache and everything in it are gone.
    DeleteCache {
        /// Its name.
        name: &'a str,
    },
    /// A cache was emptied.
    FlushCache {
        /// Its name.
        name: &'a str,
    },
    /// A key holds scalar bytes until `expires_at` (Set, SetIf, Increment).
    Scalar {
        /// The cache.
        cache: &'a str,
        /// The key.
        #[serde(borrow)]
        key: &'a Bytes,
        /// The value.
        #[serde(borrow)]
        value: &'a Bytes,
        /// Unix ms.
        expires_at: u64,
    },
    /// A key (of any type) is gone.
    Delete {
        /// The cache.
        cache: &'a str,
        /// The key.
        #[serde(borrow)]
        key: &'a Bytes,
    },
    /// A key's expiry changed (UpdateTtl).
    Expiry {
        /// The cache.
        cache: &'a str,
        /// The key.
        #[serde(borrow)]
        key: &'a Bytes,
        /// Unix ms.
        expires_at: u64,
    },
    /// Fields of a dictionary hold these values, and the dictionary expires at `expires_at`.
    /// `fresh`: the dictionary did not exist before this write (whatever an older state held
    /// under the name is dropped first).
    Fields {
        /// The cache.
        cache: &'a str,
        /// The dictionary's name.
        #[serde(borrow)]
        name: &'a Bytes,
        /// Created by this write.
        fresh: bool,
        /// Unix ms.
        expires_at: u64,
        /// (field, value) pairs.
        #[serde(borrow)]
        fields: Vec<(&'a Bytes, &'a Bytes)>,
    },
    /// Fields of a dictionary are gone (the dictionary too once it has none).
    RemoveFields {
        /// The cache.
        cache: &'a str,
        /// The dictionary's name.
        #[serde(borrow)]
        name: &'a Bytes,
        /// The fields.
        #[serde(borrow)]
        fields: Vec<&'a Bytes>,
    },
    /// A message was published on a topic.
    Publish {
        /// The cache.
        cache: &'a str,
        /// The topic.
        topic: &'a str,
        /// The message.
        #[serde(borrow)]
        message: MessageRecord<'a>,
    },
    /// A topic's page and next sequence number: in snapshots, and in the journal when a topic
    /// is reset (`Faults::reset_topic`: a newer page replaces the older one on recovery).
    Topic {
        /// The cache.
        cache: &'a str,
        /// The topic.
        topic: &'a str,
        /// Its page.
        page: u64,
        /// The sequence number its next message gets.
        next_sequence: u64,
    },
    /// Snapshot only: a message a topic still holds for resuming subscribers (oldest first).
    History {
        /// The cache.
        cache: &'a str,
        /// The topic.
        topic: &'a str,
        /// The message.
        #[serde(borrow)]
        message: MessageRecord<'a>,
    },
    /// A webhook is registered (replacing any of the same cache and name).
    Webhook {
        /// Its name, unique per cache.
        name: &'a str,
        /// The cache of its topic.
        cache: &'a str,
        /// The topic whose messages it delivers.
        topic: &'a str,
        /// Where deliveries go.
        url: &'a str,
        /// The signing secret (the data dir is private to its owner, as the signing keys are).
        secret: &'a str,
    },
    /// Snapshot only: a message waiting in a webhook's outbox.
    Pending {
        /// The webhook's cache.
        cache: &'a str,
        /// The webhook's name.
        webhook: &'a str,
        /// The topic the message was published on.
        topic: &'a str,
        /// The message.
        #[serde(borrow)]
        message: MessageRecord<'a>,
    },
    /// A webhook's receiver accepted a message (it leaves the outbox).
    Delivered {
        /// The webhook's cache.
        cache: &'a str,
        /// The webhook's name.
        webhook: &'a str,
        /// The topic the message was published on.
        topic: &'a str,
        /// Its page.
        page: u64,
        /// Its sequence number.
        sequence: u64,
    },
    /// Snapshot only, last: how many records came before. A snapshot without it is incomplete.
    End {
        /// Records before this one.
        records: u64,
    },
}

/// A message inside a record.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MessageRecord<'a> {
    /// Sequence number.
    pub(crate) sequence: u64,
    /// Page.
    pub(crate) page: u64,
    /// The publisher's token_id.
    pub(crate) publisher: &'a str,
    /// Unix ms.
    pub(crate) published_at: u64,
    /// Text or bytes.
    #[serde(borrow)]
    pub(crate) value: ValueRecord<'a>,
}

/// A message's value inside a record.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ValueRecord<'a> {
    /// Text.
    Text(&'a str),
    /// Bytes.
    Binary(#[serde(borrow)] &'a Bytes),
}

impl<'a> MessageRecord<'a> {
    /// The record of a message.
    pub(crate) fn of(message: &'a Message) -> Self {
        Self {
            sequence: message.sequence_number,
            page: message.sequence_page,
            publisher: &message.publisher_id,
            published_at: message.published_at_ms,
            value: match &message.value {
                Value::Text(text) => ValueRecord::Text(text),
                Value::Binary(bytes) => ValueRecord::Binary(Bytes::new(bytes)),
            },
        }
    }

    /// The message a record holds.
    pub(crate) fn to_message(&self) -> Message {
        Message {
            sequence_number: self.sequence,
            sequence_page: self.page,
            value: match self.value {
                ValueRecord::Text(text) => Value::Text(text.to_owned()),
                ValueRecord::Binary(bytes) => Value::Binary(bytes::Bytes::copy_from_slice(bytes)),
            },
            publisher_id: self.publisher.to_owned(),
            published_at_ms: self.published_at,
            http_item: Default::default(),
        }
    }
}

/// Appends `record` to `out` as one frame.
pub(crate) fn encode_frame(record: &Record<'_>, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER_BYTES]);
    // Serializing borrowed bytes, strings and integers into a Vec cannot fail.
    *out = postcard::to_extend(record, std::mem::take(out)).expect("records serialize");
    let payload_len = out.len() - start - FRAME_HEADER_BYTES;
    let crc = crc32fast::hash(&out[start + FRAME_HEADER_BYTES..]);
    out[start..start + 4].copy_from_slice(&(payload_len as u32).to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// `payload` (any bytes) as one frame with its length and checksum, appended to `out`: what
/// the fuzzer writes to reach record decoding past the checksum.
#[cfg_attr(not(feature = "fuzzing"), allow(dead_code))]
pub(crate) fn frame_payload(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// A file header for `magic`.
pub(crate) fn header(magic: &[u8; 8]) -> [u8; HEADER_BYTES] {
    let mut header = [0; HEADER_BYTES];
    header[..8].copy_from_slice(magic);
    header[8..].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header
}

/// Why the frames of a file end where they do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The file ends exactly after the last frame, or only zeros follow it (space a journal
    /// segment reserved ahead of its writes): the records end at `end` (an offset in the file).
    Clean {
        /// Where the records end.
        end: usize,
    },
    /// A frame at `offset` is cut short or fails its checksum.
    Damaged {
        /// Where the bad frame starts.
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Reads the frames of `bytes` (the part after the header) in order, handing each payload to
/// `each` with its offset in the file (counting the header); stops at the end or at the first
/// damaged frame, and says which.
pub(crate) fn frames<E>(
    bytes: &[u8],
    mut each: impl FnMut(usize, &[u8]) -> Result<(), E>,
) -> Result<Stop, E> {
    let mut at = 0;
    while at < bytes.len() {
        let offset = at + HEADER_BYTES;
        let Some(head) = bytes.get(at..at + FRAME_HEADER_BYTES) else {
            return Ok(Stop::Damaged {
                offset,
                reason: "frame header cut short",
            });
        };
        let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(head[4..].try_into().expect("4 bytes"));
        // No record encodes to nothing, so a zero header is reserved space: the end, if
        // nothing but zeros follows (else damage, reported as such below).
        if len == 0 && crc == 0 && bytes[at..].iter().all(|&b| b == 0) {
            return Ok(Stop::Clean { end: offset });
        }
        if len == 0 || len > MAX_PAYLOAD_BYTES {
            return Ok(Stop::Damaged {
                offset,
                reason: "frame length out of range",
            });
        }
        let start = at + FRAME_HEADER_BYTES;
        let Some(payload) = bytes.get(start..start + len) else {
            return Ok(Stop::Damaged {
                offset,
                reason: "frame cut short",
            });
        };
        if crc32fast::hash(payload) != crc {
            return Ok(Stop::Damaged {
                offset,
                reason: "checksum mismatch",
            });
        }
        each(offset, payload)?;
        at = start + len;
    }
    Ok(Stop::Clean {
        end: at + HEADER_BYTES,
    })
}

/// Whether a complete, checksummed frame starts anywhere in `bytes` (used to tell a torn tail,
/// after which nothing valid follows, from damage in the middle of a file).
pub(crate) fn any_frame_in(bytes: &[u8]) -> bool {
    (0..bytes.len()).any(|at| {
        let Some(head) = bytes.get(at..at + FRAME_HEADER_BYTES) else {
            return false;
        };
        let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(head[4..].try_into().expect("4 bytes"));
        // Zero-filled space (a torn write's unwritten blocks) is not a frame.
        if len == 0 || len > MAX_PAYLOAD_BYTES {
            return false;
        }
        let start = at + FRAME_HEADER_BYTES;
        bytes
            .get(start..start + len)
            .is_some_and(|payload| crc32fast::hash(payload) == crc && decode(payload).is_ok())
    })
}

/// Decodes a payload.
pub(crate) fn decode(payload: &[u8]) -> Result<Record<'_>, postcard::Error> {
    postcard::from_bytes(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(record: &Record<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        encode_frame(record, &mut out);
        out
    }

    #[test]
    fn a_record_survives_its_frame() {
        let record = Record::Fields {
            cache: "c",
            name: Bytes::new(b"ballots:p1:3"),
            fresh: true,
            expires_at: 1_700_000_000_000,
            fields: vec![(Bytes::new(b"v1"), Bytes::new(b"o1,o2"))],
        };
        let bytes = frame(&record);
        let mut seen = Vec::new();
        let stop = frames::<postcard::Error>(&bytes, |_, payload| {
            seen.push(format!("{:?}", decode(payload)?));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            stop,
            Stop::Clean {
                end: bytes.len() + HEADER_BYTES
            }
        );
        assert_eq!(seen, vec![format!("{record:?}")]);
    }

    #[test]
    fn zeros_after_the_frames_are_reserved_space_not_damage() {
        let mut bytes = frame(&Record::DeleteCache { name: "a" });
        let data = bytes.len();
        bytes.extend(vec![0; 4096]);
        let mut seen = 0;
        let stop = frames::<postcard::Error>(&bytes, |_, _| {
            seen += 1;
            Ok(())
        });
        assert_eq!(
            stop.unwrap(),
            Stop::Clean {
                end: data + HEADER_BYTES
            }
        );
        assert_eq!(seen, 1);
        // Something after the zeros is damage, not reserved space.
        bytes.push(1);
        let stop = frames::<postcard::Error>(&bytes, |_, _| Ok(())).unwrap();
        assert!(matches!(stop, Stop::Damaged { offset, .. } if offset == data + HEADER_BYTES));
    }

    #[test]
    fn a_cut_or_flipped_frame_stops_the_reading_there() {
        let mut bytes = frame(&Record::DeleteCache { name: "a" });
        let first = bytes.len();
        bytes.extend(frame(&Record::DeleteCache { name: "b" }));
        let whole = bytes.len();
        for cut in first + 1..whole {
            let stop = frames::<()>(&bytes[..cut], |_, _| Ok(())).unwrap();
            assert!(
                matches!(stop, Stop::Damaged { offset, .. } if offset == first + HEADER_BYTES),
                "cut at {cut}: {stop:?}"
            );
        }
        let mut flipped = bytes.clone();
        flipped[whole - 1] ^= 1;
        let stop = frames::<()>(&flipped, |_, _| Ok(())).unwrap();
        assert_eq!(
            stop,
            Stop::Damaged {
                offset: first + HEADER_BYTES,
                reason: "checksum mismatch"
            }
        );
        assert!(any_frame_in(&bytes[first..]));
        assert!(!any_frame_in(&[0; 64]));
    }
}
