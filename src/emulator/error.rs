//! Emulator: the one mapping from a failed request to Immuta's JSON error body.
//!
//! Input: a status and a message. Output: `{"statusCode":N,"error":"<reason>","message":"..."}`
//! (Hapi/Boom style, immuta-api.md §5). Messages never carry secret values and never the
//! digits of another status code (clients match "404" in bodies).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// A request the emulator refuses, as Immuta would answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Human text for the `message` member.
    pub message: String,
}

impl ApiError {
    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 409 Conflict.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// 422 Unprocessable entity.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// 401 with the documented text.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "A valid Authorization token must be provided.",
        )
    }

    /// 500 for an emulator invariant that broke (never expected).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// Any status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// The `error` member: Immuta's reason phrase for the status.
    pub fn reason(&self) -> &'static str {
        match self.status.as_u16() {
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            409 => "Conflict",
            413 => "Payload Too Large",
            422 => "Unprocessable entity",
            429 => "Too Many Requests",
            503 => "Service Unavailable",
            _ => "Internal Server Error",
        }
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        json!({
            "statusCode": self.status.as_u16(),
            "error": self.reason(),
            "message": self.message,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_documented_members() {
        let e = ApiError::unauthorized();
        assert_eq!(
            e.body(),
            json!({"statusCode":401,"error":"Unauthorized","message":"A valid Authorization token must be provided."})
        );
        assert_eq!(
            ApiError::unprocessable("x").reason(),
            "Unprocessable entity"
        );
    }
}
