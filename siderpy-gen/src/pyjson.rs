//! JSON text exactly as Python's `json.dump(obj, f, indent=4, sort_keys=True)`
//! writes it, plus the newline `print` adds.
//!
//! Redis's own generator is a Python script, so the committed `commands.json`
//! follows Python's conventions byte for byte: keys sorted by code point at
//! every level, four-space indent, `", "`-free separators (`",\n"` and
//! `": "`), every character outside printable ASCII escaped as `\uXXXX`
//! (`ensure_ascii=True`, with surrogate pairs above U+FFFF), and floats in
//! Python's `repr` form.

use std::fmt::Write;

use serde_json::{Number, Value as Json};

/// Renders `value` as Python's `json.dumps(value, indent=4, sort_keys=True)`
/// followed by a newline.
///
/// # Examples
/// ```
/// let v = serde_json::json!({"b": [1, 2.5], "a": "é", "c": {}});
/// assert_eq!(
///     siderpy_gen::pyjson::to_string(&v),
///     "{\n    \"a\": \"\\u00e9\",\n    \"b\": [\n        1,\n        2.5\n    ],\n    \"c\": {}\n}\n"
/// );
/// ```
pub fn to_string(value: &Json) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out.push('\n');
    out
}

fn indent(out: &mut String, level: usize) {
    out.push_str(&" ".repeat(level * 4));
}

fn write_value(out: &mut String, value: &Json, level: usize) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(true) => out.push_str("true"),
        Json::Bool(false) => out.push_str("false"),
        Json::Number(n) => write_number(out, n),
        Json::String(s) => write_string(out, s),
        Json::Array(items) if items.is_empty() => out.push_str("[]"),
        Json::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(out, level + 1);
                write_value(out, item, level + 1);
            }
            out.push('\n');
            indent(out, level);
            out.push(']');
        }
        Json::Object(map) if map.is_empty() => out.push_str("{}"),
        Json::Object(map) => {
            // Python sorts `str` keys by code point; Rust's `str` order (by
            // UTF-8 bytes) is the same order.
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push_str("{\n");
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(out, level + 1);
                write_string(out, key);
                out.push_str(": ");
                write_value(out, item, level + 1);
            }
            out.push('\n');
            indent(out, level);
            out.push('}');
        }
    }
}

fn write_number(out: &mut String, n: &Number) {
    if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else if let Some(u) = n.as_u64() {
        out.push_str(&u.to_string());
    } else if let Some(f) = n.as_f64() {
        out.push_str(&float_repr(f));
    }
}

/// Python's `float.__repr__` (as `json` uses it): the shortest digits that
/// round-trip, fixed notation for exponents -4..16, otherwise `1.5e+16`.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    // `{:e}` gives the shortest round-trip digits: "1.2345e3", "5e-7", "0e0".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    let digits = mantissa.replace('.', "");
    let body = if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                format!("{digits}{}.0", "0".repeat(int_len - digits.len()))
            } else {
                format!("{}.{}", &digits[..int_len], &digits[int_len..])
            }
        } else {
            format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() { first.to_owned() } else { format!("{first}.{rest}") };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{exp_sign}{:02}", exp.abs())
    };
    format!("{sign}{body}")
}

/// A JSON string literal with Python's `ensure_ascii=True` escaping.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_like_ensure_ascii() {
        let v = json!("q\"b\\n\n\r\t\u{8}\u{c}\u{1}\u{7f}é€😀/");
        assert_eq!(to_string(&v), "\"q\\\"b\\\\n\\n\\r\\t\\b\\f\\u0001\\u007f\\u00e9\\u20ac\\ud83d\\ude00/\"\n");
    }

    #[test]
    fn floats_like_python_repr() {
        let cases = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (2.5, "2.5"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456.789, "123456.789"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (-3.25e-7, "-3.25e-07"),
            (1e100, "1e+100"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
        ];
        for (f, want) in cases {
            assert_eq!(float_repr(f), want, "{f:?}");
        }
    }

    #[test]
    fn nesting_sorting_and_empties() {
        let v = json!({"z": {"b": null, "a": [true, false, []]}, "a": {}, "m": -7, "é": 1});
        let want = r#"{
    "a": {},
    "m": -7,
    "z": {
        "a": [
            true,
            false,
            []
        ],
        "b": null
    },
    "\u00e9": 1
}
"#;
        assert_eq!(to_string(&v), want);
    }
}
