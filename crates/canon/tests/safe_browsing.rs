//! Every canonicalisation example published in Google's Safe Browsing
//! "URLs and Hashing" document (v4, section Canonicalization), compared
//! with the port-less Safe Browsing form, plus the IPv6 examples of the
//! current (v5) text and further cases from the reference Go client.

use netward_canon::{canonical_url, canonical_url_bytes};

/// (input, expected Safe Browsing form), in the order the document lists them.
const PUBLISHED: &[(&str, &str)] = &[
    ("http://host/%25%32%35", "http://host/%25"),
    ("http://host/%25%32%35%25%32%35", "http://host/%25%25"),
    ("http://host/%2525252525252525", "http://host/%25"),
    ("http://host/asdf%25%32%35asd", "http://host/asdf%25asd"),
    ("http://host/%%%25%32%35asd%%", "http://host/%25%25%25asd%25%25"),
    ("http://www.google.com/", "http://www.google.com/"),
    (
        "http://%31%36%38%2e%31%38%38%2e%39%39%2e%32%36/%2E%73%65%63%75%72%65/%77%77%77%2E%65%62%61%79%2E%63%6F%6D/",
        "http://168.188.99.26/.secure/www.ebay.com/",
    ),
    (
        "http://195.127.0.11/uploads/%20%20%20%20/.verify/.eBaysecure=updateuserdataxplimnbqmn-xplmvalidateinfoswqpcmlx=hgplmcx/",
        "http://195.127.0.11/uploads/%20%20%20%20/.verify/.eBaysecure=updateuserdataxplimnbqmn-xplmvalidateinfoswqpcmlx=hgplmcx/",
    ),
    (
        "http://host%23.com/%257Ea%2521b%2540c%2523d%2524e%25f%255E00%252611%252A22%252833%252944_55%252B",
        "http://host%23.com/~a!b@c%23d$e%25f^00&11*22(33)44_55+",
    ),
    ("http://3279880203/blah", "http://195.127.0.11/blah"),
    ("http://www.google.com/blah/..", "http://www.google.com/"),
    ("www.google.com/", "http://www.google.com/"),
    ("www.google.com", "http://www.google.com/"),
    ("http://www.evil.com/blah#frag", "http://www.evil.com/blah"),
    ("http://www.GOOgle.com/", "http://www.google.com/"),
    ("http://www.google.com.../", "http://www.google.com/"),
    ("http://www.google.com/foo\tbar\rbaz\n2", "http://www.google.com/foobarbaz2"),
    ("http://www.google.com/q?", "http://www.google.com/q?"),
    ("http://www.google.com/q?r?", "http://www.google.com/q?r?"),
    ("http://www.google.com/q?r?s", "http://www.google.com/q?r?s"),
    ("http://evil.com/foo#bar#baz", "http://evil.com/foo"),
    ("http://evil.com/foo;", "http://evil.com/foo;"),
    ("http://evil.com/foo?bar;", "http://evil.com/foo?bar;"),
    // ("http://\x01\x80.com/", "http://%01%80.com/") is a byte string: see below.
    ("http://notrailingslash.com", "http://notrailingslash.com/"),
    ("http://www.gotaport.com:1234/", "http://www.gotaport.com/"),
    ("  http://www.google.com/  ", "http://www.google.com/"),
    ("http:// leadingspace.com/", "http://%20leadingspace.com/"),
    ("http://%20leadingspace.com/", "http://%20leadingspace.com/"),
    ("%20leadingspace.com/", "http://%20leadingspace.com/"),
    ("https://www.securesite.com/", "https://www.securesite.com/"),
    ("http://host.com/ab%23cd", "http://host.com/ab%23cd"),
    ("http://host.com//twoslashes?more//slashes", "http://host.com/twoslashes?more//slashes"),
];

/// The IPv6 rules of the current text, and cases from the Go reference
/// client's tests whose expected results follow the published rules.
const MORE: &[(&str, &str)] = &[
    ("http://[2001:0db8:0000::1]/", "http://[2001:db8::1]/"),
    ("http://[::ffff:1.2.3.4]/", "http://1.2.3.4/"),
    ("http://[64:ff9b::1.2.3.4]/", "http://1.2.3.4/"),
    ("http://[2001:470:1:18::114]/", "http://[2001:470:1:18::114]/"),
    (
        "http://[FEDC:BA98:7654:3210:FEDC:BA98:7654:3210]:80/index.html",
        "http://[fedc:ba98:7654:3210:fedc:ba98:7654:3210]/index.html",
    ),
    ("http%3A%2F%2Fwackyurl.com:80/", "http://wackyurl.com/"),
    ("http://W!eird<>Ho$^.com/", "http://w!eird<>ho$^.com/"),
    ("http://some%1bhost.com/%1b", "http://some%1Bhost.com/%1B"),
    ("http://www.\u{fc}mlat.com/", "http://www.xn--mlat-zra.com/"),
    ("ftp://ftp.myfiles.com/", "ftp://ftp.myfiles.com/"),
    ("http://0x12.0x43.0x44.0x01/", "http://18.67.68.1/"),
    ("http://12.0x12.01234/", "http://12.18.2.156/"),
    ("http://167838211/", "http://10.1.2.3/"),
    ("http://a.com/foo/.././bar/./../foo.html", "http://a.com/foo.html"),
    ("http://a.com//a//b///c////", "http://a.com/a/b/c/"),
    ("http://google.com.:8080/foo.html", "http://google.com/foo.html"),
    ("http://..google.com/foo.html", "http://google.com/foo.html"),
];

#[test]
fn published_examples() {
    let mut failures = Vec::new();
    for (input, want) in PUBLISHED.iter().chain(MORE) {
        match canonical_url(input) {
            Ok(u) if u.safe_browsing_form() == *want => {}
            Ok(u) => failures.push(format!("{input:?}: got {:?}, want {want:?}", u.safe_browsing_form())),
            Err(e) => failures.push(format!("{input:?}: error {e}, want {want:?}")),
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(PUBLISHED.len() + 1, 33, "the published list has 33 examples");
}

#[test]
fn published_byte_example() {
    let u = canonical_url_bytes(b"http://\x01\x80.com/").unwrap();
    assert_eq!(u.safe_browsing_form(), "http://%01%80.com/");
}

#[test]
fn keeps_non_default_port_outside_safe_browsing_form() {
    let u = canonical_url("http://www.gotaport.com:1234/").unwrap();
    assert_eq!(u.to_string(), "http://www.gotaport.com:1234/");
}

/// Inputs the Go reference client refuses for want of a host.
#[test]
fn no_host_is_an_error() {
    for input in [
        "",
        ":",
        "/blah",
        "#ref",
        "/blah#ref",
        "?query#ref",
        "/blah;param",
        "http://#ref",
        "http:///blah#ref",
        "http://?query#ref",
        "http:///blah;param?query#ref",
        "mailto:bryner@google.com",
        "http:www.google.com:8080/foo.html",
        "www.google.com:xxyy/foo.html:80",
    ] {
        assert!(canonical_url(input).is_err(), "{input:?} should be refused");
    }
}
