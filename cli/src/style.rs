//! Terminal colours, honouring NO_COLOR and whether the stream is a terminal.

use std::io::IsTerminal;

#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// Colour for stdout unless disabled by flag, `NO_COLOR`, or a non-terminal.
    pub fn stdout(no_color: bool) -> Style {
        Style {
            color: enabled(no_color, std::io::stdout().is_terminal()),
        }
    }

    pub fn stderr(no_color: bool) -> Style {
        Style {
            color: enabled(no_color, std::io::stderr().is_terminal()),
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    pub fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

fn enabled(no_color: bool, terminal: bool) -> bool {
    if no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return false;
    }
    if std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") {
        return true;
    }
    terminal
}
