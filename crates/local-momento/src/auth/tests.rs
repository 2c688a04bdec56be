use super::*;
use momento_protos::permission_messages::{
    permissions_type, ExplicitPermissions, PermissionsType, TopicRole,
};

fn publish_only(cache: &str, topic: &str) -> Permissions {
    use permissions_type::{topic_permissions, topic_selector, CacheSelector, TopicSelector};
    Permissions {
        kind: Some(permissions::Kind::Explicit(ExplicitPermissions {
            permissions: vec![PermissionsType {
                kind: Some(permissions_type::Kind::TopicPermissions(
                    permissions_type::TopicPermissions {
                        role: TopicRole::TopicWriteOnly.into(),
                        cache: Some(topic_permissions::Cache::CacheSelector(CacheSelector {
                            kind: Some(permissions_type::cache_selector::Kind::CacheName(
                                cache.into(),
                            )),
                        })),
                        topic: Some(topic_permissions::Topic::TopicSelector(TopicSelector {
                            kind: Some(topic_selector::Kind::TopicName(topic.into())),
                        })),
                    },
                )),
            }],
        })),
    }
}
use momento_protos::permission_messages::permissions;

#[test]
fn super_user_key_is_a_v2_jwt_that_authenticates() {
    let auth = Authenticator::random();
    let key = auth.super_user_key();
    let key = key.expose_secret();
    assert_eq!(key.split('.').count(), 3);
    let principal = auth.authenticate(key).unwrap();
    assert!(principal.grants().is_super_user());
    assert_eq!(principal.token_id(), "");
}

#[test]
fn a_key_signed_with_another_secret_is_invalid() {
    let key = Authenticator::random().super_user_key();
    let err = Authenticator::random()
        .authenticate(key.expose_secret())
        .unwrap_err();
    assert_eq!(err, AuthError::Invalid);
}

#[test]
fn missing_and_garbage_keys_are_refused() {
    let auth = Authenticator::random();
    assert_eq!(auth.authenticate("").unwrap_err(), AuthError::Missing);
    assert_eq!(
        auth.authenticate("not-a-key").unwrap_err(),
        AuthError::Invalid
    );
    assert_eq!(auth.authenticate("a.b.c").unwrap_err(), AuthError::Invalid);
}

#[test]
fn disposable_token_carries_token_id_and_only_its_permissions() {
    let auth = Authenticator::random();
    let minted = auth
        .mint_disposable(
            &Principal::super_user(),
            &publish_only("c", "votes"),
            Duration::from_secs(60),
            "poll1:voter1",
        )
        .unwrap();
    // Accepted raw and wrapped the way the SDKs hand it out.
    let wrapped = wrap_auth_token(minted.api_key.expose_secret(), "localhost");
    for presented in [minted.api_key.expose_secret(), wrapped.as_str()] {
        let p = auth.authenticate(presented).unwrap();
        assert_eq!(p.token_id(), "poll1:voter1");
        assert!(p.grants().allows_topic("c", "votes", TopicAccess::Publish));
        assert!(!p
            .grants()
            .allows_topic("c", "votes", TopicAccess::Subscribe));
        assert!(!p.grants().allows_topic("c", "other", TopicAccess::Publish));
        assert!(!p.grants().allows_topic("d", "votes", TopicAccess::Publish));
        assert!(!p.grants().allows_cache("c", b"k", CacheAccess::Read));
        assert!(!p.grants().is_super_user());
    }
}

#[test]
fn minting_limits_are_enforced() {
    let auth = Authenticator::random();
    let su = Principal::super_user();
    let perms = publish_only("c", "t");
    let long_id = "x".repeat(65);
    assert_eq!(
        auth.mint_disposable(&su, &perms, Duration::from_secs(60), &long_id)
            .err(),
        Some(MintError::TokenIdTooLong(65))
    );
    assert!(auth
        .mint_disposable(&su, &perms, Duration::from_secs(60), &"x".repeat(64))
        .is_ok());
    assert_eq!(
        auth.mint_disposable(&su, &perms, Duration::from_secs(25 * 3600 + 1), "t")
            .err(),
        Some(MintError::BadExpiry(25 * 3600 + 1))
    );
    assert_eq!(
        auth.mint_disposable(&su, &perms, Duration::ZERO, "t").err(),
        Some(MintError::BadExpiry(0))
    );
    let token = auth
        .mint_disposable(&su, &perms, Duration::from_secs(60), "t")
        .unwrap();
    let holder = auth.authenticate(token.api_key.expose_secret()).unwrap();
    assert_eq!(
        auth.mint_disposable(&holder, &perms, Duration::from_secs(60), "t2")
            .err(),
        Some(MintError::NotAllowed)
    );
}

#[test]
fn an_expired_disposable_token_is_refused() {
    let auth = Authenticator::random();
    let token = auth
        .mint_disposable(
            &Principal::super_user(),
            &publish_only("c", "t"),
            Duration::from_secs(1),
            "t",
        )
        .unwrap();
    // Accepted first (and so remembered as verified), then refused once expired.
    assert!(auth.authenticate(token.api_key.expose_secret()).is_ok());
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(
        auth.authenticate(token.api_key.expose_secret())
            .unwrap_err(),
        AuthError::Expired
    );
}
