//! The text form of messages: one line per message, frames separated by TAB, and
//! frames that are not printable text written as `0x` + lowercase hex.
//!
//! The two directions are inverse: [`parse_line`] of [`format_message`]'s output gives
//! back the same frames. To keep that true, a text frame that itself looks like hex
//! (`0x` followed by an even number of hex digits) is printed in hex.

use std::fmt::Write as _;

use monocoque::{Bytes, Message};

/// Separates frames within a line.
const FRAME_SEPARATOR: u8 = b'\t';

/// Writes `msg` as one line (without the newline): frames joined by TAB, each frame
/// as text when printable, else as `0x` + hex.
pub fn format_message(msg: &Message) -> String {
    let mut line = String::new();
    for (i, frame) in msg.iter().enumerate() {
        if i > 0 {
            line.push(char::from(FRAME_SEPARATOR));
        }
        push_frame(&mut line, frame);
    }
    line
}

/// Appends one frame's text form to `out`.
fn push_frame(out: &mut String, frame: &[u8]) {
    match printable(frame) {
        Some(text) if decode_hex(frame).is_none() => out.push_str(text),
        _ => {
            out.push_str("0x");
            for byte in frame {
                // Writing to a String cannot fail.
                let _ = write!(out, "{byte:02x}");
            }
        }
    }
}

/// The frame as text if it is valid UTF-8 without control characters (TAB and
/// newline included: they would break the line format).
fn printable(frame: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(frame).ok()?;
    (!text.chars().any(char::is_control)).then_some(text)
}

/// Splits an input line (its line ending already removed) into a message: one frame
/// per TAB-separated field, `0x`-hex fields decoded to bytes.
pub fn parse_line(line: &[u8]) -> Message {
    line.split(|b| *b == FRAME_SEPARATOR)
        .map(parse_frame)
        .collect()
}

/// One field of the text form: `0x` + an even, non-zero number of hex digits is
/// binary, anything else is taken as is.
pub fn parse_frame(field: &[u8]) -> Bytes {
    decode_hex(field).map_or_else(|| Bytes::copy_from_slice(field), Bytes::from)
}

/// Decodes `0x` + hex digits (at least one byte's worth, an even count).
fn decode_hex(field: &[u8]) -> Option<Vec<u8>> {
    let digits = field.strip_prefix(b"0x")?;
    if digits.is_empty() || digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| Some(hex_value(pair[0])? << 4 | hex_value(pair[1])?))
        .collect()
}

/// The value of one hex digit (either case).
fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).map(|v| v as u8)
}

/// Removes the line ending (`\n` or `\r\n`) that `read_until` leaves in place.
pub fn trim_line_ending(mut line: &[u8]) -> &[u8] {
    if let Some(rest) = line.strip_suffix(b"\n") {
        line = rest;
        if let Some(rest) = line.strip_suffix(b"\r") {
            line = rest;
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(frames: &[&[u8]]) -> Message {
        frames.iter().map(|f| Bytes::copy_from_slice(f)).collect()
    }

    #[test]
    fn text_frames_are_joined_by_tab() {
        assert_eq!(
            format_message(&msg(&[b"a", b"", b"hello world"])),
            "a\t\thello world"
        );
        assert_eq!(format_message(&msg(&[b"caf\xc3\xa9"])), "café");
    }

    #[test]
    fn binary_and_control_frames_are_hex() {
        assert_eq!(format_message(&msg(&[b"\x00\x80\xff"])), "0x0080ff");
        assert_eq!(format_message(&msg(&[b"a\tb"])), "0x610962");
        assert_eq!(format_message(&msg(&[b"line\n"])), "0x6c696e650a");
        assert_eq!(format_message(&msg(&[b"\x01topic"])), "0x01746f706963");
        assert_eq!(format_message(&msg(&[b"\xc3"])), "0xc3");
    }

    #[test]
    fn text_that_looks_like_hex_is_hex() {
        assert_eq!(format_message(&msg(&[b"0xab"])), "0x30786162");
        assert_eq!(format_message(&msg(&[b"0xabc"])), "0xabc");
        assert_eq!(format_message(&msg(&[b"0x"])), "0x");
    }

    #[test]
    fn lines_split_on_tab_and_decode_hex() {
        assert_eq!(parse_line(b"a\tb"), msg(&[b"a", b"b"]));
        assert_eq!(parse_line(b""), msg(&[b""]));
        assert_eq!(parse_line(b"id\t\tbody"), msg(&[b"id", b"", b"body"]));
        assert_eq!(parse_line(b"0x00FF\tx"), msg(&[b"\x00\xff", b"x"]));
        assert_eq!(
            parse_line(b"0x\t0xabc\t0xzz"),
            msg(&[b"0x", b"0xabc", b"0xzz"])
        );
    }

    #[test]
    fn formatting_then_parsing_gives_the_frames_back() {
        let cases: [&[&[u8]]; 4] = [
            &[b"plain", b"", b"0x1234"],
            &[b"\x00\x01", b"t\tab", b"0x"],
            &[b"\xff\xfe", b"\r\n"],
            &[b"caf\xc3\xa9", b"0xzz"],
        ];
        for frames in cases {
            let m = msg(frames);
            assert_eq!(parse_line(format_message(&m).as_bytes()), m);
        }
    }

    #[test]
    fn line_endings_are_removed() {
        assert_eq!(trim_line_ending(b"a\n"), b"a");
        assert_eq!(trim_line_ending(b"a\r\n"), b"a");
        assert_eq!(trim_line_ending(b"a"), b"a");
        assert_eq!(trim_line_ending(b"a\r"), b"a\r");
    }
}
