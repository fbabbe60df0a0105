//! Opaque ids. ULIDs sort by creation time, which the listings rely on (newest first).
use crate::clock::Clock;
use std::{fmt, str::FromStr};
use ulid::Ulid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Ulid);

        impl $name {
            pub fn new(clock: &dyn Clock) -> Self {
                Self(Ulid::from_datetime(clock.now().into()))
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
        impl FromStr for $name {
            type Err = ulid::DecodeError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ulid::from_string(s).map(Self)
            }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&self.0)
            }
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// A job (requisition).
    JobId
);
id_type!(
    /// A person who applied (one per normalised email).
    CandidateId
);
id_type!(
    /// One candidate's application to one job.
    ApplicationId
);
id_type!(
    /// An application someone started on the career site.
    DraftId
);
id_type!(
    /// An interview of an application.
    InterviewId
);

id_type!(
    /// A nurture campaign.
    CampaignId
);

id_type!(
    /// A story in the content library.
    StoryId
);

id_type!(
    /// A prior-applicant CSV uploaded for an import.
    ImportId
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        let id = JobId::new(&SystemClock);
        assert_eq!(id.to_string().parse::<JobId>().unwrap(), id);
        assert!("not-an-id".parse::<JobId>().is_err());
        assert!("../../etc/passwd".parse::<JobId>().is_err());
    }
}

id_type!(
    /// One event of the outbox: the id a consumer is idempotent on and a webhook delivery names.
    EventId
);

id_type!(
    /// An endpoint that receives signed webhooks.
    WebhookId
);
