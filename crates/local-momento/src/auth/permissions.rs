//! Momento's permission model, evaluated: cache roles (read-only, read-write, write-only) and
//! topic roles (subscribe-only, publish-only, publish-subscribe), each scoped to all caches or
//! one, and (caches) to all items, one key or a key prefix, (topics) to all topics, one topic
//! or a topic-name prefix. Any matching grant allows the call.

use momento_protos::permission_messages::{
    permissions, permissions_type, CacheRole, Permissions, TopicRole,
};
use permissions_type::{cache_item_selector, cache_permissions, topic_permissions, topic_selector};

/// What a cache call needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheAccess {
    /// Reads only (Get, KeysExist, ItemGetTtl, DictionaryFetch, ...).
    Read,
    /// Writes that return no state (Set, Delete, UpdateTtl, DictionarySet, ...).
    Write,
    /// Writes that return or depend on state (SetIf*, Increment, DictionaryIncrement):
    /// Momento allows these only to read-write grants.
    ReadWrite,
}

/// What a topic call needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopicAccess {
    /// Publish.
    Publish,
    /// Subscribe.
    Subscribe,
}

/// The evaluated permissions of a principal.
#[derive(Clone, Debug)]
pub enum Grants {
    /// An API key: everything, including control-plane calls and minting tokens.
    SuperUser,
    /// A disposable token: exactly these grants, never control-plane calls.
    Explicit(Vec<Grant>),
}

/// One grant of a disposable token.
#[derive(Clone, Debug)]
pub enum Grant {
    /// A cache grant.
    Cache {
        role: CacheRole,
        cache: Option<String>,
        item: ItemScope,
    },
    /// A topic grant.
    Topic {
        role: TopicRole,
        cache: Option<String>,
        topic: TopicScope,
    },
}

/// Which items of a cache a grant covers.
#[derive(Clone, Debug)]
pub enum ItemScope {
    All,
    Key(Vec<u8>),
    KeyPrefix(Vec<u8>),
}

/// Which topics of a cache a grant covers.
#[derive(Clone, Debug)]
pub enum TopicScope {
    All,
    Name(String),
    Prefix(String),
}

/// The permissions message did not describe anything usable.
#[derive(Debug, thiserror::Error)]
#[error("malformed permissions: {0}")]
pub struct MalformedPermissions(&'static str);

impl Grants {
    /// Evaluates the protobuf permissions of a token.
    pub fn from_proto(p: &Permissions) -> Result<Self, MalformedPermissions> {
        match &p.kind {
            Some(permissions::Kind::SuperUser(_)) => Ok(Grants::SuperUser),
            Some(permissions::Kind::Explicit(explicit)) => {
                if explicit.permissions.is_empty() {
                    return Err(MalformedPermissions("no permissions listed"));
                }
                explicit
                    .permissions
                    .iter()
                    .map(Grant::from_proto)
                    .collect::<Result<_, _>>()
                    .map(Grants::Explicit)
            }
            None => Err(MalformedPermissions("no permissions kind")),
        }
    }

    /// Whether control-plane calls (create/delete/list caches, minting tokens) are allowed.
    pub fn is_super_user(&self) -> bool {
        matches!(self, Grants::SuperUser)
    }

    /// Whether `access` to `key` (for collections: the collection name) in `cache` is allowed.
    pub fn allows_cache(&self, cache: &str, key: &[u8], access: CacheAccess) -> bool {
        match self {
            Grants::SuperUser => true,
            Grants::Explicit(grants) => grants.iter().any(|g| match g {
                Grant::Cache {
                    role,
                    cache: c,
                    item,
                } => {
                    cache_matches(c, cache) && item_matches(item, key) && role_allows(*role, access)
                }
                Grant::Topic { .. } => false,
            }),
        }
    }

    /// Whether a cache-wide call that names no key (e.g. KeysExist over many keys) is allowed:
    /// every key must be allowed, so callers check each key with [`Grants::allows_cache`].
    pub fn allows_topic(&self, cache: &str, topic: &str, access: TopicAccess) -> bool {
        match self {
            Grants::SuperUser => true,
            Grants::Explicit(grants) => grants.iter().any(|g| match g {
                Grant::Topic {
                    role,
                    cache: c,
                    topic: t,
                } => {
                    cache_matches(c, cache)
                        && topic_matches(t, topic)
                        && match access {
                            TopicAccess::Publish => {
                                matches!(
                                    role,
                                    TopicRole::TopicReadWrite | TopicRole::TopicWriteOnly
                                )
                            }
                            TopicAccess::Subscribe => {
                                matches!(role, TopicRole::TopicReadWrite | TopicRole::TopicReadOnly)
                            }
                        }
                }
                Grant::Cache { .. } => false,
            }),
        }
    }
}

impl Grant {
    fn from_proto(
        p: &momento_protos::permission_messages::PermissionsType,
    ) -> Result<Self, MalformedPermissions> {
        use permissions_type::Kind;
        match &p.kind {
            Some(Kind::CachePermissions(cp)) => {
                let role = CacheRole::try_from(cp.role)
                    .map_err(|_| MalformedPermissions("unknown cache role"))?;
                let cache = match &cp.cache {
                    Some(cache_permissions::Cache::AllCaches(_)) => None,
                    Some(cache_permissions::Cache::CacheSelector(sel)) => Some(cache_name(sel)?),
                    None => return Err(MalformedPermissions("cache permission without a cache")),
                };
                let item = match &cp.cache_item {
                    None | Some(cache_permissions::CacheItem::AllItems(_)) => ItemScope::All,
                    Some(cache_permissions::CacheItem::ItemSelector(sel)) => match &sel.kind {
                        Some(cache_item_selector::Kind::Key(k)) => ItemScope::Key(k.clone()),
                        Some(cache_item_selector::Kind::KeyPrefix(k)) => {
                            ItemScope::KeyPrefix(k.clone())
                        }
                        None => return Err(MalformedPermissions("empty item selector")),
                    },
                };
                Ok(Grant::Cache { role, cache, item })
            }
            Some(Kind::TopicPermissions(tp)) => {
                let role = TopicRole::try_from(tp.role)
                    .map_err(|_| MalformedPermissions("unknown topic role"))?;
                let cache = match &tp.cache {
                    Some(topic_permissions::Cache::AllCaches(_)) => None,
                    Some(topic_permissions::Cache::CacheSelector(sel)) => Some(cache_name(sel)?),
                    None => return Err(MalformedPermissions("topic permission without a cache")),
                };
                let topic = match &tp.topic {
                    Some(topic_permissions::Topic::AllTopics(_)) => TopicScope::All,
                    Some(topic_permissions::Topic::TopicSelector(sel)) => match &sel.kind {
                        Some(topic_selector::Kind::TopicName(n)) => TopicScope::Name(n.clone()),
                        Some(topic_selector::Kind::TopicNamePrefix(n)) => {
                            TopicScope::Prefix(n.clone())
                        }
                        None => return Err(MalformedPermissions("empty topic selector")),
                    },
                    None => return Err(MalformedPermissions("topic permission without a topic")),
                };
                Ok(Grant::Topic { role, cache, topic })
            }
            Some(Kind::FunctionPermissions(_)) => Err(MalformedPermissions(
                "function permissions are not supported",
            )),
            None => Err(MalformedPermissions("empty permission")),
        }
    }
}

fn cache_name(sel: &permissions_type::CacheSelector) -> Result<String, MalformedPermissions> {
    match &sel.kind {
        Some(permissions_type::cache_selector::Kind::CacheName(n)) => Ok(n.clone()),
        None => Err(MalformedPermissions("empty cache selector")),
    }
}

fn cache_matches(scope: &Option<String>, cache: &str) -> bool {
    scope.as_deref().is_none_or(|c| c == cache)
}

fn item_matches(scope: &ItemScope, key: &[u8]) -> bool {
    match scope {
        ItemScope::All => true,
        ItemScope::Key(k) => k.as_slice() == key,
        ItemScope::KeyPrefix(p) => key.starts_with(p),
    }
}

fn topic_matches(scope: &TopicScope, topic: &str) -> bool {
    match scope {
        TopicScope::All => true,
        TopicScope::Name(n) => n == topic,
        TopicScope::Prefix(p) => topic.starts_with(p.as_str()),
    }
}

fn role_allows(role: CacheRole, access: CacheAccess) -> bool {
    match access {
        CacheAccess::Read => matches!(role, CacheRole::CacheReadWrite | CacheRole::CacheReadOnly),
        CacheAccess::Write => matches!(role, CacheRole::CacheReadWrite | CacheRole::CacheWriteOnly),
        CacheAccess::ReadWrite => matches!(role, CacheRole::CacheReadWrite),
    }
}
