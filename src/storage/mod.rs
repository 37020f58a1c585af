//! Storage: see the helper.
