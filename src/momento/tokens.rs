//! Voter tokens: Momento disposable tokens that may publish on the votes topic and subscribe
//! to one poll's results topic, and nothing else.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use momento::auth::{
    CacheSelector, ExpiresIn, GenerateDisposableTokenRequest, Permission, Permissions,
    TopicPermission, TopicRole, TopicSelector,
};
use secrecy::SecretString;

use crate::domain::TokenId;
use crate::momento::keys::{results_topic, VOTES_TOPIC};
use crate::momento::{Momento, StoreResult};

/// A minted voter token.
pub struct VoterToken {
    /// The token as the SDKs take it (`auth_token`: base64 of the key and endpoint).
    pub token: SecretString,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

impl Momento {
    /// Mints a token for `token_id`: publish-only on [`VOTES_TOPIC`], subscribe-only on the
    /// poll's results topic, valid for `valid_for`.
    #[tracing::instrument(skip_all, fields(poll_id = %token_id.poll_id().as_str(), token_id = %token_id))]
    pub async fn mint_voter_token(
        &self,
        token_id: &TokenId,
        valid_for: Duration,
    ) -> StoreResult<VoterToken> {
        let cache = CacheSelector::CacheName {
            name: self.cache_name().to_owned(),
        };
        let permissions = Permissions {
            permissions: vec![
                Permission::TopicPermission(TopicPermission {
                    role: TopicRole::PublishOnly,
                    cache: cache.clone(),
                    topic: TopicSelector::TopicName {
                        name: VOTES_TOPIC.to_owned(),
                    },
                }),
                Permission::TopicPermission(TopicPermission {
                    role: TopicRole::SubscribeOnly,
                    cache,
                    topic: TopicSelector::TopicName {
                        name: results_topic(token_id.poll_id()),
                    },
                }),
            ],
        };
        let request = GenerateDisposableTokenRequest::new(
            permissions.into(),
            // Expiries are whole seconds, which Momento may round up: a second less keeps the
            // token within `valid_for` (never past its poll's close + a minute).
            ExpiresIn::seconds(valid_for.as_secs().saturating_sub(1).max(1)),
        )
        .token_id(token_id.to_string());
        let response = self
            .auth()
            .send_request(request)
            .await
            .context("minting a voter token")?;
        let epoch = response.clone().expires_at().epoch();
        Ok(VoterToken {
            token: SecretString::from(response.auth_token()),
            expires_at: Utc
                .timestamp_opt(epoch as i64, 0)
                .single()
                .context("the token's expiry is not a valid time")?,
        })
    }
}
