//! The notifications example against its contract
//! (`examples/notifications/conformance.json`), over real sockets and HTTP.

#[path = "../examples/notifications/app.rs"]
mod app;
mod script;

use wskit_examples::TestServer;

#[tokio::test]
async fn notifications_meets_its_contract() {
    script::run_file("examples/notifications/conformance.json", || {
        Box::pin(async {
            let (routes, _ws) = app::app();
            TestServer::start_with(|listener, stopped| async move {
                axum::serve(listener, routes).with_graceful_shutdown(stopped).await
            })
            .await
        })
    })
    .await;
}

#[tokio::test]
async fn a_websocket_without_a_user_is_refused_with_401() {
    let (routes, _ws) = app::app();
    let server = TestServer::start_with(|listener, stopped| async move {
        axum::serve(listener, routes).with_graceful_shutdown(stopped).await
    })
    .await;
    for path in ["/ws", "/ws?user=", "/ws?user=a%20b"] {
        match tokio_tungstenite::connect_async(server.url(path)).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401, "{path}")
            }
            other => panic!("{path}: expected 401, got {other:?}"),
        }
    }
}
