//! A command line into words, as the AWS API MCP server splits it (Python's
//! `shlex.split`: POSIX quoting, no comments, no expansion; the words are handed to the
//! AWS CLI in process, no shell runs). Anything a shell would treat specially outside
//! quotes (pipes, `&&`, `;`, redirections, subshells, substitutions, comments) is refused:
//! where those words would go differs between a shell and that server, so neither
//! reading can be trusted.

use super::CliError;

/// The longest command line read (bytes).
pub const MAX_LINE: usize = 64 * 1024;

pub(crate) fn split(line: &str) -> Result<Vec<String>, CliError> {
    if line.len() > MAX_LINE {
        return Err(CliError::Syntax(format!(
            "the command line is {} bytes, more than {MAX_LINE}",
            line.len()
        )));
    }
    if line.contains('\0') {
        return Err(CliError::Syntax("the command line holds a NUL byte".into()));
    }
    check_shell(line)?;
    let words = shlex::split(line)
        .ok_or_else(|| CliError::Syntax("unbalanced quotes or a trailing backslash".into()))?;
    Ok(words)
}

/// Refuses shell syntax outside quotes, and backslashes in double quotes where a POSIX
/// shell and Python's shlex disagree (`\$`, `` \` ``, backslash-newline).
fn check_shell(line: &str) -> Result<(), CliError> {
    let shell = |what: &str, c: char| {
        Err(CliError::Shell(format!(
            "{what} {c:?} outside quotes: only one plain `aws ...` command is read"
        )))
    };
    let mut chars = line.chars().peekable();
    let mut word_start = true;
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                if !chars.by_ref().any(|c| c == '\'') {
                    return Err(CliError::Syntax("unbalanced single quote".into()));
                }
                word_start = false;
                continue;
            }
            '"' => {
                loop {
                    match chars.next() {
                        None => return Err(CliError::Syntax("unbalanced double quote".into())),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('$' | '`' | '\n') => {
                                return Err(CliError::Shell(
                                    "a backslash before $, ` or a newline in double quotes reads differently in a shell and in Python's shlex".into(),
                                ))
                            }
                            Some(_) => {}
                            None => return Err(CliError::Syntax("unbalanced double quote".into())),
                        },
                        Some(_) => {}
                    }
                }
                word_start = false;
                continue;
            }
            '\\' => {
                if chars.next().is_none() {
                    return Err(CliError::Syntax("a trailing backslash".into()));
                }
                word_start = false;
                continue;
            }
            '|' | '&' | ';' | '<' | '>' | '(' | ')' | '`' => return shell("shell operator", c),
            '$' => return shell("shell expansion", c),
            '\n' | '\r' => return shell("a line break", c),
            '#' if word_start => return shell("shell comment", c),
            _ => {}
        }
        word_start = c.is_whitespace();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        let w = split(r#"aws s3api put-object --bucket "my b" --key 'a b' --x a\ b"#).unwrap();
        assert_eq!(
            w,
            [
                "aws",
                "s3api",
                "put-object",
                "--bucket",
                "my b",
                "--key",
                "a b",
                "--x",
                "a b"
            ]
        );
        let w = split(r#"aws x --q "a|b;c&d" --r 'x$(y)' --s a#b"#).unwrap();
        assert_eq!(w[3], "a|b;c&d");
        assert_eq!(w[5], "x$(y)");
        assert_eq!(w[7], "a#b");
        for bad in [
            "aws s3 ls | grep x",
            "aws s3 ls && aws s3 rb s3://x",
            "aws s3 ls; rm -rf /",
            "aws s3 ls > out",
            "aws s3 ls $(whoami)",
            "aws s3 ls `id`",
            "aws s3 ls $HOME",
            "aws s3 ls # comment",
            "aws s3 ls\naws s3 rb s3://x",
            "aws s3 ls 'open",
            "aws s3 ls \"open",
            "aws s3 ls \\",
            "aws s3 ls \"a\\$b\"",
            "(aws s3 ls)",
        ] {
            assert!(split(bad).is_err(), "{bad}");
        }
    }
}
