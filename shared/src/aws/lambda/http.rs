//! API Gateway (HTTP API, payload 2.0) requests and responses.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use base64::Engine;
use serde::Serialize;

pub fn json_response(status: i64, body: &impl Serialize) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = status;
    response.headers.insert(
        aws_lambda_events::http::header::CONTENT_TYPE,
        aws_lambda_events::http::HeaderValue::from_static("application/json"),
    );
    response.body = Some(Body::Text(serde_json::to_string(body).unwrap_or_default()));
    response
}

/// The request's body as sent (API Gateway base64-encodes bodies it takes for binary).
pub fn body(request: ApiGatewayV2httpRequest) -> Result<Vec<u8>, String> {
    let body = request.body.unwrap_or_default();
    if request.is_base64_encoded {
        base64::engine::general_purpose::STANDARD.decode(&body).map_err(|e| format!("body: {e}"))
    } else {
        Ok(body.into_bytes())
    }
}
