//! Sans-IO policy: indicators, threat feeds, precedence and verdicts.
