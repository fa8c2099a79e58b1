//! Percent-decoding to a fixed point and Safe Browsing re-escaping.
//!
//! Safe Browsing says "repeatedly percent-unescape the URL until it has no
//! more percent-escapes". Doing that pass by pass is quadratic on inputs such
//! as `%25252525…`; [`unescape_fully`] reaches the same fixed point in one
//! linear pass (the property tests compare it with the naive loop).

/// Value of an ASCII hex digit.
fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// If `out` ends in a valid `%XX`, replace it with the byte it stands for.
fn reduce_tail(out: &mut Vec<u8>) -> bool {
    let n = out.len();
    if n < 3 {
        return false;
    }
    let tail = &out[n - 3..];
    if tail[0] != b'%' {
        return false;
    }
    match (hex_val(tail[1]), hex_val(tail[2])) {
        (Some(h), Some(l)) => {
            out.truncate(n - 3);
            out.push(h << 4 | l);
            true
        }
        _ => false,
    }
}

/// Percent-decode `input` until no valid `%XX` escape remains.
///
/// Invalid escapes (`%`, `%G1`, `%4`) are kept literally, as Safe Browsing
/// clients do. The output is never longer than the input.
pub fn unescape_fully(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for &b in input {
        out.push(b);
        // A decoded byte can itself complete an escape with what precedes it
        // (`%%32%35` -> `%25` -> `%`), hence the loop.
        while reduce_tail(&mut out) {}
    }
    out
}

/// One left-to-right decoding pass (what a single `unescape` call does).
/// Exposed for the property test that checks [`unescape_fully`] against
/// repeating this until nothing changes.
pub fn unescape_once(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'%' {
            let h = input.get(i + 1).copied().and_then(hex_val);
            let l = input.get(i + 2).copied().and_then(hex_val);
            if let (Some(h), Some(l)) = (h, l) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Whether Safe Browsing escapes this byte: controls and space, DEL and
/// everything non-ASCII, `#` and `%`.
pub fn needs_escape(b: u8) -> bool {
    b <= 0x20 || b >= 0x7f || b == b'#' || b == b'%'
}

/// Append `bytes` to `out`, escaping as [`needs_escape`] says, with upper
/// case hex digits.
pub fn escape_into(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if needs_escape(b) {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push(char::from(b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_examples() {
        assert_eq!(unescape_fully(b"%25%32%35"), b"%");
        assert_eq!(unescape_fully(b"%2525252525252525"), b"%");
        assert_eq!(unescape_fully(b"%%%25%32%35asd%%"), b"%%%asd%%");
        assert_eq!(unescape_fully(b"%4"), b"%4");
        assert_eq!(unescape_fully(b"a%41"), b"aA");
    }

    #[test]
    fn once_decodes_one_level() {
        assert_eq!(unescape_once(b"%2541"), b"%41");
        assert_eq!(unescape_once(b"%4"), b"%4");
        assert_eq!(unescape_once(b"%"), b"%");
        assert_eq!(unescape_once(b"%41"), b"A");
    }

    #[test]
    fn escape_rules() {
        let mut s = String::new();
        escape_into(b"a #%\x01\x7f\x80~", &mut s);
        assert_eq!(s, "a%20%23%25%01%7F%80~");
    }
}
