//! What the domain answers when a value does not parse or a rule says no. The HTTP edge maps these to
//! problem+json (`rapport::error`); nothing here knows about status codes.

/// One bad field of a request, named by its path (`location.country`, `hiring_team[1].sub`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Input the domain refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// Not the shape asked for at all (not an object, not a form, too many fields).
    #[error("malformed: {0}")]
    Malformed(String),
    /// Every bad field, each with a message for the client.
    #[error("{} field(s) are invalid", .0.len())]
    Fields(Vec<FieldError>),
}

impl Invalid {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Fields(vec![FieldError::new(field, message)])
    }
}
