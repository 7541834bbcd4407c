use crate::helpers::TestServer;
use serde_json::Value;

#[tokio::test]
async fn health_reports_database_ping_then_503_when_database_is_gone() {
    let server = TestServer::spawn().await;
    let resp = server.http.get(server.url("/health")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"]["status"], "up");
    assert!(body["database"]["ping_ms"].as_f64().unwrap() >= 0.0);
    let expected_backend = server.env.expected_database_backend().to_lowercase();
    assert_eq!(body["database"]["backend"], expected_backend.as_str());

    server.state.services.infra.db.conn.close_by_ref().await.unwrap();
    let resp = server.http.get(server.url("/health")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"]["status"], "down");
}
