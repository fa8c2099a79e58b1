//! Bounded line reading: a line longer than [`MAX_LINE`] bytes is reported
//! and skipped without being held in memory.

use std::io::{self, BufRead};

/// Longest line kept, in bytes.
pub const MAX_LINE: usize = 64 * 1024;

/// A line as read: its text, or why it cannot be used.
pub enum Line<'a> {
    /// The text, without line terminator (and without a UTF-8 BOM on line 1).
    Text(&'a str),
    /// Longer than [`MAX_LINE`].
    TooLong,
    /// Not UTF-8; the byte offset of the first bad byte.
    NotUtf8(usize),
}

/// Call `f(line_number, line)` for every line of `r`.
pub fn for_each_line<R: BufRead>(mut r: R, mut f: impl FnMut(u64, Line<'_>)) -> io::Result<u64> {
    let mut buf = Vec::new();
    let mut n = 0u64;
    loop {
        buf.clear();
        let mut too_long = false;
        let mut saw_any = false;
        loop {
            let avail = match r.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                break;
            }
            saw_any = true;
            let (chunk, done) = match avail.iter().position(|&b| b == b'\n') {
                Some(i) => (&avail[..i], Some(i + 1)),
                None => (avail, None),
            };
            if !too_long {
                if buf.len() + chunk.len() > MAX_LINE {
                    too_long = true;
                    buf.clear();
                } else {
                    buf.extend_from_slice(chunk);
                }
            }
            let used = done.unwrap_or(avail.len());
            r.consume(used);
            if done.is_some() {
                break;
            }
        }
        if !saw_any {
            return Ok(n);
        }
        n += 1;
        if too_long {
            f(n, Line::TooLong);
            continue;
        }
        let mut bytes = &buf[..];
        if let Some(b) = bytes.strip_suffix(b"\r") {
            bytes = b;
        }
        if n == 1 {
            if let Some(b) = bytes.strip_prefix(b"\xef\xbb\xbf") {
                bytes = b;
            }
        }
        match std::str::from_utf8(bytes) {
            Ok(s) => f(n, Line::Text(s)),
            Err(e) => f(n, Line::NotUtf8(e.valid_up_to())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_long_lines_and_bad_utf8() {
        let mut input = b"\xef\xbb\xbfa\r\nb\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        input.extend_from_slice(b"\nc\xff\nlast");
        let mut got = Vec::new();
        let n = for_each_line(io::BufReader::with_capacity(16, &input[..]), |i, l| {
            got.push(match l {
                Line::Text(s) => format!("{i}:{s}"),
                Line::TooLong => format!("{i}:long"),
                Line::NotUtf8(at) => format!("{i}:bad@{at}"),
            })
        })
        .unwrap();
        assert_eq!(n, 5);
        assert_eq!(got, ["1:a", "2:b", "3:long", "4:bad@1", "5:last"]);
    }
}
