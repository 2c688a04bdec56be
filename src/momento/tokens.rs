//! Voter tokens: Momento disposable tokens that may publish on the votes topic and subscribe
//! to one poll's results topic, and nothing else.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use secrecy::SecretString;

use crate::domain::TokenId;
use crate::momento::keys::results_topic;
use crate::momento::{Momento, StoreResult, TopicGrant};

/// A minted voter token.
pub struct VoterToken {
    /// The token as the SDKs take it (`auth_token`: base64 of the key and endpoint).
    pub token: SecretString,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

impl Momento {
    /// Mints a token for `token_id`: publish-only on `votes_topic` (its poll's votes topic),
    /// subscribe-only on the poll's results topic, valid for `valid_for`.
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %token_id.poll_id().as_str(), token_id = %token_id))]
    pub async fn mint_voter_token(
        &self,
        token_id: &TokenId,
        votes_topic: &str,
        valid_for: Duration,
    ) -> StoreResult<VoterToken> {
        let grants = [
            TopicGrant::Publish(votes_topic.to_owned()),
            TopicGrant::Subscribe(results_topic(token_id.poll_id())),
        ];
        // Expiries are whole seconds, which Momento may round up: a second less keeps the
        // token within `valid_for` (never past its poll's close + a minute).
        let valid_for = Duration::from_secs(valid_for.as_secs().saturating_sub(1).max(1));
        let minted = self
            .engine
            .mint_token(&self.cache_name, &token_id.to_string(), &grants, valid_for)
            .await;
        self.count("mint_token", &minted);
        let minted = minted.context("minting a voter token")?;
        Ok(VoterToken {
            token: minted.auth_token,
            expires_at: Utc
                .timestamp_opt(minted.expires_at as i64, 0)
                .single()
                .context("the token's expiry is not a valid time")?,
        })
    }
}
