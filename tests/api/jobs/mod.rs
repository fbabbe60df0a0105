//! Jobs through the local stack: a recruiter's edits, the career site's listing, and description files.
mod career_site;
mod descriptions;
mod editing;
