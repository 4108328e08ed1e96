//! Positions in text files, for errors that name a line and column.

/// The 1-based line and column (in characters) of byte `offset` in `text`. An offset
/// past the end, or inside a character, is placed at the end or at that character.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::line_column;

    #[test]
    fn lines_and_columns_are_one_based_in_characters() {
        let t = "ab\ncé d\n";
        assert_eq!(line_column(t, 0), (1, 1));
        assert_eq!(line_column(t, 3), (2, 1));
        // `d` is the 4th character of line 2, though its 5th byte.
        assert_eq!(line_column(t, 7), (2, 4));
        assert_eq!(line_column(t, 5), (2, 2), "inside é: placed at é");
        assert_eq!(line_column(t, 999), (3, 1));
    }
}
