//! Cache and bus shared by instances: with Redis configured, two server
//! instances see each other's keys and events; in-process, one does.

use crate::helpers::TestEnv;
use optralis::{
    domain::live::{self, StatusChange},
    infra::Infra,
};
use std::time::Duration;

#[tokio::test]
async fn bus_delivers_events_and_cache_counts_windows() {
    let env = TestEnv::new().await;
    let config = env.config();
    let a = Infra::connect(&config).await.unwrap();
    let shared = config.redis_url.is_some();
    // A second instance on the same Redis, or the same process otherwise.
    let b = if shared {
        Infra::connect(&config).await.unwrap()
    } else {
        a.clone()
    };

    let mut rx = b.bus.subscribe();
    // Redis SUBSCRIBE completes asynchronously; publish until it lands.
    let event = live::status(
        uuid::Uuid::new_v4(),
        StatusChange {
            machine_id: uuid::Uuid::new_v4(),
            hostname: "srv-01".into(),
            status: live::Status::Online,
            at: chrono::Utc::now(),
            after_offline: false,
        },
    );
    let received = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            a.bus.publish(event.clone()).await;
            match tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
                Ok(Ok(got)) => return (*got).clone(),
                _ => continue,
            }
        }
    })
    .await
    .expect("event crosses the bus");
    assert_eq!(received, event);

    a.cache
        .set("greeting", "bonjour", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(b.cache.get("greeting").await.unwrap().as_deref(), Some("bonjour"));
    b.cache.delete("greeting").await.unwrap();
    assert_eq!(a.cache.get("greeting").await.unwrap(), None);

    let window = Duration::from_secs(60);
    assert_eq!(a.cache.hit("login:192.0.2.1", window).await.count, 1);
    let second = b.cache.hit("login:192.0.2.1", window).await;
    assert_eq!(second.count, 2);
    assert!(second.resets_in > Duration::from_secs(50) && second.resets_in <= window);
}
