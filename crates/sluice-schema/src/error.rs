//! The registry's errors, each with the HTTP status and Confluent `error_code` clients match on.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::api::json_response;

/// A failed request, answered as `{"error_code": .., "message": ..}`.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    #[error("Version {0} not found.")]
    VersionNotFound(String),
    #[error("{0}")]
    SchemaNotFound(String),
    #[error("Subject '{0}' was soft deleted.Set permanent=true to delete permanently")]
    SubjectSoftDeleted(String),
    #[error("Subject '{0}' was not deleted first before being permanently deleted")]
    SubjectNotSoftDeleted(String),
    #[error("Subject '{0}' Version {1} was soft deleted.Set permanent=true to delete permanently")]
    VersionSoftDeleted(String, i32),
    #[error("Subject '{0}' Version {1} was not deleted first before being permanently deleted")]
    VersionNotSoftDeleted(String, i32),
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    SubjectCompatibilityNotConfigured(String),
    #[error("Subject '{0}' does not have subject-level mode configured")]
    SubjectModeNotConfigured(String),
    #[error("{0}")]
    Incompatible(String),
    #[error("{0}")]
    InvalidSchema(String),
    #[error("The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"")]
    InvalidVersion(String),
    #[error("Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive")]
    InvalidCompatibilityLevel,
    #[error("Invalid mode. Valid values are READWRITE, READONLY, IMPORT")]
    InvalidMode,
    #[error("{0}")]
    OperationNotPermitted(String),
    #[error("{0}")]
    ReferenceExists(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("Error in the backend data store - {0}")]
    Store(String),
    #[error("{0}")]
    NotFound(String),
}

impl RegistryError {
    /// (HTTP status, Confluent error code).
    pub fn codes(&self) -> (StatusCode, i32) {
        use RegistryError::*;
        match self {
            SubjectNotFound(_) => (StatusCode::NOT_FOUND, 40401),
            VersionNotFound(_) => (StatusCode::NOT_FOUND, 40402),
            SchemaNotFound(_) => (StatusCode::NOT_FOUND, 40403),
            SubjectSoftDeleted(_) => (StatusCode::NOT_FOUND, 40404),
            SubjectNotSoftDeleted(_) => (StatusCode::NOT_FOUND, 40405),
            VersionSoftDeleted(..) => (StatusCode::NOT_FOUND, 40406),
            VersionNotSoftDeleted(..) => (StatusCode::NOT_FOUND, 40407),
            SubjectCompatibilityNotConfigured(_) => (StatusCode::NOT_FOUND, 40408),
            SubjectModeNotConfigured(_) => (StatusCode::NOT_FOUND, 40409),
            NotFound(_) => (StatusCode::NOT_FOUND, 404),
            Incompatible(_) => (StatusCode::CONFLICT, 409),
            InvalidSchema(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42201),
            InvalidVersion(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42202),
            InvalidCompatibilityLevel => (StatusCode::UNPROCESSABLE_ENTITY, 42203),
            InvalidMode => (StatusCode::UNPROCESSABLE_ENTITY, 42204),
            OperationNotPermitted(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42205),
            ReferenceExists(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42206),
            BadRequest(_) => (StatusCode::BAD_REQUEST, 400),
            Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, 422),
            Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, 50001),
        }
    }
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        let (status, code) = self.codes();
        let body = serde_json::json!({ "error_code": code, "message": self.to_string() });
        json_response(status, &body)
    }
}

impl From<crate::store::StoreError> for RegistryError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "schema registry store");
        RegistryError::Store(e.to_string())
    }
}
