//! Library errors: typed, and always saying where in which file the problem is.

use std::fmt;
use std::path::PathBuf;

/// A place in a source file: the file, the sheet (xlsx), the 1-based row and the column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub sheet: Option<String>,
    pub row: Option<usize>,
    pub column: Option<String>,
}

impl Location {
    pub fn file(file: impl Into<String>) -> Self {
        Location {
            file: file.into(),
            ..Default::default()
        }
    }

    pub fn with_row(mut self, row: usize) -> Self {
        self.row = Some(row);
        self
    }

    pub fn with_column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(sheet) = &self.sheet {
            write!(f, ", sheet '{sheet}'")?;
        }
        if let Some(row) = self.row {
            write!(f, ", row {row}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column '{column}'")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{location}: {message}")]
    Parse { location: Location, message: String },

    #[error("{location}: '{value}' is not a valid value: {expected}")]
    BadValue {
        location: Box<Location>,
        value: String,
        expected: String,
    },

    #[error("{file}: no header row found for the {table} table (looked for {looked_for})")]
    NoHeader {
        file: String,
        table: &'static str,
        looked_for: String,
    },

    #[error("{location}: schema drift in the {table} table: {details}")]
    SchemaDrift {
        location: Box<Location>,
        table: &'static str,
        details: String,
    },

    #[error("{archive}: {message}")]
    Archive { archive: String, message: String },

    #[error("{0}")]
    Release(String),

    /// A code, modifier, variant or locality the release does not have.
    #[error("{0}")]
    NotFound(String),

    #[error(
        "{table}: the formats disagree in {count} cell(s); first ones:\n{examples}\n(pass --allow-format-mismatch to publish anyway)"
    )]
    FormatMismatch {
        table: &'static str,
        count: usize,
        examples: String,
    },

    #[error("{release} is not valid: {summary}")]
    Invalid { release: String, summary: String },

    #[error("{url}: {message}")]
    Fetch { url: String, message: String },

    #[error("writing {what}: {message}")]
    Output { what: String, message: String },

    #[error("{output}: {holder}; try again when it ends, or pass --wait")]
    Locked { output: String, holder: String },

    /// A database sink: connection, authentication, permissions or a failed load. The target
    /// never carries a password.
    #[error("{target}: {message}")]
    Database { target: String, message: String },

    #[error("pipeline definition {path}: {message}")]
    Definition { path: String, message: String },
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
