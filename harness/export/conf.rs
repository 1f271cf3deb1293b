//! Building a configuration file's text: directives with the setting they come from in an
//! aligned comment, sections, and durations in the target's units.
//!
//! HAProxy and nginx both start comments with `#` and both read durations as an integer
//! with a unit, so one builder serves both. Pure string building: nothing here reads a
//! file or a clock, so the same topology always gives the same bytes.

use std::time::Duration;

use super::ExportError;

/// The column where a directive's origin comment starts (directives longer than this get
/// two spaces before it).
const COMMENT_COLUMN: usize = 44;
/// Spaces per nesting level.
const INDENT: usize = 4;

/// A configuration file being written, one line at a time.
#[derive(Debug, Default)]
pub struct Conf {
    text: String,
    depth: usize,
}

impl Conf {
    pub fn new() -> Self {
        Self::default()
    }

    /// `# text` at the current depth, one comment line per line of `text`; an empty
    /// `text` is a bare `#` (a paragraph break inside a comment).
    pub fn comment(&mut self, text: &str) {
        if text.is_empty() {
            self.raw("#");
        }
        for line in text.lines() {
            self.raw(format!("# {line}").trim_end());
        }
    }

    /// A directive with no origin comment (its reason is in a comment above it).
    pub fn line(&mut self, directive: &str) {
        self.raw(directive);
    }

    /// A directive followed by `# origin`: the setting it comes from, or why it is fixed.
    pub fn set(&mut self, directive: &str, origin: &str) {
        let indent = self.depth * INDENT;
        let width = COMMENT_COLUMN.saturating_sub(indent);
        let padded = if directive.len() + 2 <= width {
            format!("{directive:width$}")
        } else {
            format!("{directive}  ")
        };
        self.raw(&format!("{padded}# {origin}"));
    }

    /// An empty line.
    pub fn blank(&mut self) {
        self.text.push('\n');
    }

    /// Opens a `head {` block (nginx).
    pub fn open(&mut self, head: &str) {
        self.raw(&format!("{head} {{"));
        self.depth += 1;
    }

    /// Closes the innermost `{` block.
    pub fn close(&mut self) {
        self.depth = self
            .depth
            .checked_sub(1)
            .expect("every close follows an open");
        self.raw("}");
    }

    /// Starts an HAProxy section (`global`, `frontend https`): the head at column 0, its
    /// keywords indented below it until the next section.
    pub fn section(&mut self, head: &str) {
        self.depth = 0;
        self.raw(head);
        self.depth = 1;
    }

    /// The whole text; every block is closed (a section needs no closing).
    pub fn finish(self) -> String {
        self.text
    }

    fn raw(&mut self, line: &str) {
        for _ in 0..self.depth * INDENT {
            self.text.push(' ');
        }
        self.text.push_str(line);
        self.text.push('\n');
    }
}

/// A duration as both targets write it: `2s` when it is whole seconds, `1500ms` otherwise.
///
/// Both count timers in whole milliseconds, so a setting with a finer part is an error
/// naming `key` (the setting, such as `topology.lb.timeout`) rather than a silent rounding.
pub fn duration(key: &str, value: Duration) -> Result<String, ExportError> {
    if !value.subsec_nanos().is_multiple_of(1_000_000) {
        return Err(ExportError {
            key: key.to_string(),
            message: format!(
                "{} is not a whole number of milliseconds; HAProxy and nginx count timers in milliseconds",
                humantime::format_duration(value)
            ),
        });
    }
    Ok(if value.subsec_millis() == 0 {
        format!("{}s", value.as_secs())
    } else {
        format!("{}ms", value.as_millis())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proves durations print in whole seconds when they can, milliseconds otherwise, and
    /// that a sub-millisecond part is an error naming the setting, not a rounding.
    #[test]
    fn durations() {
        let d = |ms| duration("k", Duration::from_millis(ms)).unwrap();
        assert_eq!(d(2000), "2s");
        assert_eq!(d(1500), "1500ms");
        assert_eq!(d(60_000), "60s");
        let err = duration("topology.lb.timeout", Duration::from_micros(1500)).unwrap_err();
        assert_eq!(err.key, "topology.lb.timeout");
        assert!(err.message.contains("1ms 500us"), "{}", err.message);
    }

    /// Proves origin comments line up in one column and nest with the blocks.
    #[test]
    fn layout() {
        let mut conf = Conf::new();
        conf.open("http");
        conf.set("proxy_read_timeout 5s;", "topology.lb.response_timeout");
        conf.comment("why");
        conf.close();
        let text = conf.finish();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "http {");
        assert_eq!(lines[1].find('#'), Some(COMMENT_COLUMN));
        assert!(lines[1].starts_with("    proxy_read_timeout 5s;"));
        assert_eq!(lines[2], "    # why");
        assert_eq!(lines[3], "}");
    }
}
