//! `parse_command_line(cmd, "windows")`: the arguments of a Windows command
//! line, split as `CommandLineToArgvW` splits them (Kusto's documented
//! parser): the program name runs to the next blank, or is quoted without
//! escapes; after it, blanks separate arguments outside quotes, `2n`
//! backslashes before a quote are `n` backslashes and the quote opens or
//! closes a quoted part, `2n+1` are `n` and a literal quote, other
//! backslashes are literal, and `""` inside quotes is a literal quote.

use super::{arg, strs, utf8s};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::ColumnarValue;

/// The arguments of `cmd`.
pub fn split_windows(cmd: &str) -> Vec<String> {
    let c: Vec<char> = cmd.chars().collect();
    let blank = |ch: char| ch == ' ' || ch == '\t';
    let mut out = Vec::new();
    let mut i = 0;
    // The program name.
    let mut name = String::new();
    if c.first() == Some(&'"') {
        i = 1;
        while i < c.len() && c[i] != '"' {
            name.push(c[i]);
            i += 1;
        }
        i += 1;
    } else {
        while i < c.len() && !blank(c[i]) {
            name.push(c[i]);
            i += 1;
        }
    }
    if c.is_empty() {
        return out;
    }
    out.push(name);
    loop {
        while i < c.len() && blank(c[i]) {
            i += 1;
        }
        if i >= c.len() {
            return out;
        }
        let mut cur = String::new();
        let mut quoted = false;
        while i < c.len() && (quoted || !blank(c[i])) {
            match c[i] {
                '\\' => {
                    let start = i;
                    while i < c.len() && c[i] == '\\' {
                        i += 1;
                    }
                    let n = i - start;
                    if i < c.len() && c[i] == '"' {
                        cur.extend(std::iter::repeat_n('\\', n / 2));
                        if n % 2 == 1 {
                            cur.push('"');
                            i += 1;
                        }
                    } else {
                        cur.extend(std::iter::repeat_n('\\', n));
                    }
                }
                '"' => {
                    if quoted && c.get(i + 1) == Some(&'"') {
                        cur.push('"');
                        i += 2;
                    } else {
                        quoted = !quoted;
                        i += 1;
                    }
                }
                ch => {
                    cur.push(ch);
                    i += 1;
                }
            }
        }
        out.push(cur);
    }
}

pub fn parse_command_line(args: &[ColumnarValue], n: usize) -> Result<ColumnarValue> {
    let cmd = strs(arg(args, 0, "parse_command_line")?)?;
    let kind = strs(arg(args, 1, "parse_command_line")?)?;
    for i in 0..n {
        if !kind.at(i).unwrap_or("").eq_ignore_ascii_case("windows") {
            return exec_err!("kql: parse_command_line: the only parser is \"windows\"");
        }
    }
    Ok(utf8s(n, |i| {
        let parts = split_windows(cmd.at(i).unwrap_or(""));
        Some(serde_json::Value::from(parts).to_string())
    }))
}

#[cfg(test)]
mod tests {
    use super::split_windows;

    #[test]
    fn splits_as_command_line_to_argv() {
        assert_eq!(split_windows(r#"echo "hello world!""#), ["echo", "hello world!"]);
        assert_eq!(
            split_windows(r#""C:\Program Files\a.exe" -x a\\\"b "c d""#),
            [r"C:\Program Files\a.exe", "-x", r#"a\"b"#, "c d"]
        );
        assert_eq!(split_windows(r#"p a\\b "x""y" \\\\"z""#), ["p", r"a\\b", r#"x"y"#, r"\\z"]);
        assert!(split_windows("").is_empty());
    }
}
