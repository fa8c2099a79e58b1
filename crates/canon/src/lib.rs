//! Canonical names: the one place where host names and URLs are canonicalised.
//! Every other crate compares names only after passing them through here.
