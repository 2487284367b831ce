//! A team store's address, `s3://BUCKET[/PREFIX]` (from `WHARF_MIRRORS` or the command line), and
//! one object as a model source, `s3://BUCKET/KEY` (from `wharf.toml` or `wharf pull`).
//!
//! The bucket name follows S3's rules (3–63 of `a-z0-9.-`, first and last a letter or digit); the
//! prefix is `/`-separated parts of `[A-Za-z0-9._-]`, none `.` or `..`, so every key wharf builds
//! under it (`<prefix>/blobs/sha256/<hex>`) stays in that prefix. An object's key follows the
//! prefix's rule and may not be empty.

use std::fmt;
use std::str::FromStr;

use super::{name_part, refuse, IdError, MAX_LEN};

/// `s3://BUCKET[/PREFIX]`: a bucket and the folder in it that holds wharf's objects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BucketUrl {
    bucket: String,
    prefix: String,
}

impl BucketUrl {
    /// What this kind of value is called in errors.
    pub const KIND: &'static str = "team store";

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key of `rel` (a key relative to the prefix, made by wharf) in the bucket.
    pub fn key(&self, rel: &str) -> String {
        if self.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.prefix)
        }
    }

    /// `s3://BUCKET/KEY` for `rel`: how an object is named in messages.
    pub fn label(&self, rel: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.key(rel))
    }
}

impl FromStr for BucketUrl {
    type Err = IdError;
    fn from_str(s: &str) -> Result<BucketUrl, IdError> {
        if s.len() > MAX_LEN {
            return Err(refuse(Self::KIND, s, "too long"));
        }
        let Some(rest) = s.strip_prefix("s3://") else {
            return Err(refuse(Self::KIND, s, "expected s3://BUCKET or s3://BUCKET/PREFIX"));
        };
        let rest = rest.trim_end_matches('/');
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b))
            && bucket.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && bucket.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
        if !bucket_ok {
            return Err(refuse(Self::KIND, s, "a bucket name is 3-63 lowercase letters, digits, `-` or `.`"));
        }
        if !prefix.is_empty() && !prefix.split('/').all(name_part) {
            return Err(refuse(
                Self::KIND,
                s,
                "the prefix is `/`-separated parts of letters, digits, `-`, `_` and `.`, none `.` or `..`",
            ));
        }
        Ok(BucketUrl { bucket: bucket.to_string(), prefix: prefix.to_string() })
    }
}

/// `s3://BUCKET/KEY`: one object of a bucket, a model source.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct S3Object {
    bucket: BucketUrl,
    key: String,
}

impl S3Object {
    /// What this kind of value is called in errors.
    pub const KIND: &'static str = "S3 object";

    /// The bucket, without a prefix.
    pub fn bucket(&self) -> &BucketUrl {
        &self.bucket
    }

    /// The object's key in the bucket.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl FromStr for S3Object {
    type Err = IdError;
    fn from_str(s: &str) -> Result<S3Object, IdError> {
        let at: BucketUrl = s.parse().map_err(|e: IdError| refuse(Self::KIND, s, e.why))?;
        if at.prefix.is_empty() || s.ends_with('/') {
            return Err(refuse(Self::KIND, s, "expected s3://BUCKET/KEY (a key that is not a folder)"));
        }
        let BucketUrl { bucket, prefix } = at;
        Ok(S3Object { bucket: BucketUrl { bucket, prefix: String::new() }, key: prefix })
    }
}

impl fmt::Display for S3Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.bucket.label(&self.key))
    }
}

impl fmt::Display for BucketUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_and_prefixes_are_parsed_and_keys_stay_inside() {
        let b: BucketUrl = "s3://team-models/wharf/v1/".parse().unwrap();
        assert_eq!(b.bucket(), "team-models");
        assert_eq!(b.key("blobs/sha256/ab"), "wharf/v1/blobs/sha256/ab");
        assert_eq!(b.to_string(), "s3://team-models/wharf/v1");
        let b: BucketUrl = "s3://team".parse().unwrap();
        assert_eq!(b.label("x"), "s3://team/x");
        for bad in [
            "team",
            "s3://",
            "s3://ab",
            "s3://Team",
            "s3://-team",
            "s3://team/../x",
            "s3://team/a//b",
            "s3://team/a b",
            "http://team",
        ] {
            assert!(bad.parse::<BucketUrl>().is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn an_object_has_a_key_that_stays_in_its_bucket() {
        let o: S3Object = "s3://team-models/bert/v1/model.bin".parse().unwrap();
        assert_eq!((o.bucket().to_string().as_str(), o.key()), ("s3://team-models", "bert/v1/model.bin"));
        assert_eq!(o.to_string(), "s3://team-models/bert/v1/model.bin");
        for bad in ["s3://team", "s3://team/", "s3://team/dir/", "s3://team/../etc/passwd", "s3://team/a b"] {
            assert!(bad.parse::<S3Object>().is_err(), "{bad} was accepted");
        }
    }
}
