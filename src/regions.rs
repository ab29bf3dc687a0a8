//! AWS Regions and the broad residency geography each belongs to.
//!
//! This is reference data, not a lookup service: the list is the Regions AWS publishes today in
//! the commercial, GovCloud, China and European Sovereign Cloud partitions. A Region missing from
//! the list still gets a geography from its code prefix (`eu-` → EU, `ap-` → APAC, ...), so a
//! newly launched Region is classified correctly before this list learns its name.

use std::collections::HashMap;
use std::sync::LazyLock;

/// One AWS Region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Region code, e.g. `eu-central-1`.
    pub code: &'static str,
    /// Broad residency area: `US`, `CA`, `MX`, `SA`, `EU`, `APAC`, `ME`, `AF`, `US-GOV`, `CN`.
    pub geography: &'static str,
    /// ISO 3166 alpha-2 country code.
    pub country: &'static str,
    /// AWS's location name.
    pub name: &'static str,
    /// AWS partition.
    pub partition: &'static str,
}

const fn region(
    code: &'static str,
    geography: &'static str,
    country: &'static str,
    name: &'static str,
    partition: &'static str,
) -> Region {
    Region {
        code,
        geography,
        country,
        name,
        partition,
    }
}

/// Every Region trailmap knows by name.
pub const REGIONS: &[Region] = &[
    region("us-east-1", "US", "US", "US East (N. Virginia)", "aws"),
    region("us-east-2", "US", "US", "US East (Ohio)", "aws"),
    region("us-west-1", "US", "US", "US West (N. California)", "aws"),
    region("us-west-2", "US", "US", "US West (Oregon)", "aws"),
    region("ca-central-1", "CA", "CA", "Canada (Central)", "aws"),
    region("ca-west-1", "CA", "CA", "Canada West (Calgary)", "aws"),
    region("mx-central-1", "MX", "MX", "Mexico (Central)", "aws"),
    region("sa-east-1", "SA", "BR", "South America (São Paulo)", "aws"),
    region("eu-central-1", "EU", "DE", "Europe (Frankfurt)", "aws"),
    region("eu-central-2", "EU", "CH", "Europe (Zurich)", "aws"),
    region("eu-west-1", "EU", "IE", "Europe (Ireland)", "aws"),
    region("eu-west-2", "EU", "GB", "Europe (London)", "aws"),
    region("eu-west-3", "EU", "FR", "Europe (Paris)", "aws"),
    region("eu-south-1", "EU", "IT", "Europe (Milan)", "aws"),
    region("eu-south-2", "EU", "ES", "Europe (Spain)", "aws"),
    region("eu-north-1", "EU", "SE", "Europe (Stockholm)", "aws"),
    region(
        "eusc-de-east-1",
        "EU",
        "DE",
        "AWS European Sovereign Cloud (Brandenburg)",
        "aws-eusc",
    ),
    region("ap-east-1", "APAC", "HK", "Asia Pacific (Hong Kong)", "aws"),
    region("ap-east-2", "APAC", "TW", "Asia Pacific (Taipei)", "aws"),
    region("ap-south-1", "APAC", "IN", "Asia Pacific (Mumbai)", "aws"),
    region(
        "ap-south-2",
        "APAC",
        "IN",
        "Asia Pacific (Hyderabad)",
        "aws",
    ),
    region(
        "ap-southeast-1",
        "APAC",
        "SG",
        "Asia Pacific (Singapore)",
        "aws",
    ),
    region(
        "ap-southeast-2",
        "APAC",
        "AU",
        "Asia Pacific (Sydney)",
        "aws",
    ),
    region(
        "ap-southeast-3",
        "APAC",
        "ID",
        "Asia Pacific (Jakarta)",
        "aws",
    ),
    region(
        "ap-southeast-4",
        "APAC",
        "AU",
        "Asia Pacific (Melbourne)",
        "aws",
    ),
    region(
        "ap-southeast-5",
        "APAC",
        "MY",
        "Asia Pacific (Malaysia)",
        "aws",
    ),
    region(
        "ap-southeast-6",
        "APAC",
        "NZ",
        "Asia Pacific (New Zealand)",
        "aws",
    ),
    region(
        "ap-southeast-7",
        "APAC",
        "TH",
        "Asia Pacific (Thailand)",
        "aws",
    ),
    region(
        "ap-northeast-1",
        "APAC",
        "JP",
        "Asia Pacific (Tokyo)",
        "aws",
    ),
    region(
        "ap-northeast-2",
        "APAC",
        "KR",
        "Asia Pacific (Seoul)",
        "aws",
    ),
    region(
        "ap-northeast-3",
        "APAC",
        "JP",
        "Asia Pacific (Osaka)",
        "aws",
    ),
    region("me-south-1", "ME", "BH", "Middle East (Bahrain)", "aws"),
    region("me-central-1", "ME", "AE", "Middle East (UAE)", "aws"),
    region("il-central-1", "ME", "IL", "Israel (Tel Aviv)", "aws"),
    region("af-south-1", "AF", "ZA", "Africa (Cape Town)", "aws"),
    region(
        "us-gov-west-1",
        "US-GOV",
        "US",
        "AWS GovCloud (US-West)",
        "aws-us-gov",
    ),
    region(
        "us-gov-east-1",
        "US-GOV",
        "US",
        "AWS GovCloud (US-East)",
        "aws-us-gov",
    ),
    region("cn-north-1", "CN", "CN", "China (Beijing)", "aws-cn"),
    region("cn-northwest-1", "CN", "CN", "China (Ningxia)", "aws-cn"),
];

/// Every geography name, in display order.
pub const GEOGRAPHIES: &[&str] = &[
    "US", "CA", "MX", "SA", "EU", "APAC", "ME", "AF", "US-GOV", "CN",
];

static BY_CODE: LazyLock<HashMap<&'static str, &'static Region>> =
    LazyLock::new(|| REGIONS.iter().map(|r| (r.code, r)).collect());

/// The Region with this code, if trailmap knows it.
pub fn lookup(code: &str) -> Option<&'static Region> {
    BY_CODE.get(code).copied()
}

/// The geography of a Region: from the list, else from the code prefix; `None` if neither knows.
pub fn geography(code: &str) -> Option<&'static str> {
    if let Some(region) = lookup(code) {
        return Some(region.geography);
    }
    const PREFIXES: &[(&str, &str)] = &[
        ("us-gov-", "US-GOV"),
        ("us-", "US"),
        ("ca-", "CA"),
        ("mx-", "MX"),
        ("sa-", "SA"),
        ("eusc-", "EU"),
        ("eu-", "EU"),
        ("ap-", "APAC"),
        ("me-", "ME"),
        ("il-", "ME"),
        ("af-", "AF"),
        ("cn-", "CN"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| code.starts_with(prefix))
        .map(|(_, geo)| *geo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_regions_and_prefix_fallback() {
        assert_eq!(geography("eu-west-2"), Some("EU"));
        assert_eq!(geography("eu-central-2"), Some("EU"));
        assert_eq!(geography("us-gov-west-1"), Some("US-GOV"));
        assert_eq!(geography("ap-northeast-1"), Some("APAC"));
        assert_eq!(geography("cn-northwest-1"), Some("CN"));
        assert_eq!(geography("eu-east-9"), Some("EU"));
        assert_eq!(geography("xx-nowhere-1"), None);
        assert_eq!(geography(""), None);
    }

    #[test]
    fn every_listed_geography_is_known() {
        for r in REGIONS {
            assert!(GEOGRAPHIES.contains(&r.geography), "{}", r.code);
            assert_eq!(r.country.len(), 2, "{}", r.code);
        }
    }
}
