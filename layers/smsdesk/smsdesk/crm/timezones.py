"""A contact's time zone derived from its number's country.

``phonenumberslite`` (what the Lambda layer ships) has no time zone data (``phonenumbers.timezone``
needs the full ``phonenumbers`` distribution's ``tzdata``), so the zone comes from this small table
of countries that have exactly one IANA zone. A country with several zones (US, CA, BR, AU, RU, MX,
ID, ...) or one not listed derives none: set ``time_zone`` explicitly for those contacts.
"""

from __future__ import annotations

#: ISO 3166-1 alpha-2 → the country's only IANA time zone.
SINGLE_ZONE: dict[str, str] = {
    "AT": "Europe/Vienna",
    "BE": "Europe/Brussels",
    "BG": "Europe/Sofia",
    "CH": "Europe/Zurich",
    "CY": "Asia/Nicosia",
    "CZ": "Europe/Prague",
    "DK": "Europe/Copenhagen",
    "EE": "Europe/Tallinn",
    "FI": "Europe/Helsinki",
    "FR": "Europe/Paris",
    "GB": "Europe/London",
    "GR": "Europe/Athens",
    "HR": "Europe/Zagreb",
    "HU": "Europe/Budapest",
    "IE": "Europe/Dublin",
    "IS": "Atlantic/Reykjavik",
    "IT": "Europe/Rome",
    "LI": "Europe/Vaduz",
    "LT": "Europe/Vilnius",
    "LU": "Europe/Luxembourg",
    "LV": "Europe/Riga",
    "MA": "Africa/Casablanca",
    "MC": "Europe/Monaco",
    "MT": "Europe/Malta",
    "NL": "Europe/Amsterdam",
    "NO": "Europe/Oslo",
    "PL": "Europe/Warsaw",
    "RO": "Europe/Bucharest",
    "RS": "Europe/Belgrade",
    "SE": "Europe/Stockholm",
    "SI": "Europe/Ljubljana",
    "SK": "Europe/Bratislava",
    "TR": "Europe/Istanbul",
    "UA": "Europe/Kyiv",
    "DZ": "Africa/Algiers",
    "TN": "Africa/Tunis",
    "ZA": "Africa/Johannesburg",
    "NG": "Africa/Lagos",
    "KE": "Africa/Nairobi",
    "EG": "Africa/Cairo",
    "IL": "Asia/Jerusalem",
    "AE": "Asia/Dubai",
    "SA": "Asia/Riyadh",
    "IN": "Asia/Kolkata",
    "JP": "Asia/Tokyo",
    "KR": "Asia/Seoul",
    "SG": "Asia/Singapore",
    "HK": "Asia/Hong_Kong",
    "PH": "Asia/Manila",
    "TH": "Asia/Bangkok",
    "VN": "Asia/Ho_Chi_Minh",
    "NZ": "Pacific/Auckland",
    "SN": "Africa/Dakar",
    "CI": "Africa/Abidjan",
    "CM": "Africa/Douala",
}


def zone_for_number(e164: str | None) -> str | None:
    """The IANA zone of the number's country if that country has only one; else None."""
    import phonenumbers  # ~10-20 ms: loaded by the first number handled, not at cold start

    if not e164 or not e164.startswith("+"):
        return None
    try:
        num = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    return SINGLE_ZONE.get(phonenumbers.region_code_for_number(num) or "")
