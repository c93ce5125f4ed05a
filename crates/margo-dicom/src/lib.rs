//! Find, sort, decode and validate DICOM CT series into margo volumes.
