//! stunnel PSKsecrets parser.
