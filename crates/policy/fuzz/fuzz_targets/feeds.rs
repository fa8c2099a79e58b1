//! Any bytes through every feed parser: no panic, counters consistent,
//! every item canonical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netward_policy::feed::parse_feed;
use netward_policy::{FeedFormat, ImportReport, Target};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else { return };
    let format = [FeedFormat::Hosts, FeedFormat::Domains, FeedFormat::Adblock, FeedFormat::Urlhaus, FeedFormat::Stix][usize::from(sel) % 5];
    let mut report = ImportReport::default();
    let mut n = 0u64;
    let _ = parse_feed(body, format, &mut report, &mut |item| {
        n += 1;
        let again = Target::parse(item.target.kind(), &item.target.to_string()).ok();
        assert_eq!(again.as_ref(), Some(&item.target));
    });
    assert_eq!(report.imported, n);
});
