//! Errors building a vendor client (bad credentials, HTTP client setup). Sending never fails
//! with an error: every answer is classified into a [`crate::VendorOutcome`].

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid credentials: {0}")]
    Credentials(String),
    #[error("http client: {0}")]
    Http(String),
}
