//! KQL advanced hunting compiled onto DataFusion logical plans.
