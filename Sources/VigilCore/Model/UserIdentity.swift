import _VigilMachinery

/// When two user ids name the same account, and which ids name none.
///
/// IdPs compare login names loosely: Okta and Entra ID sign users in case-insensitively, Keycloak
/// lower-cases usernames when it stores them, and any of them may hand over "josé" composed (NFC) or
/// decomposed (NFD). Keyed on the raw bytes, one person would be several users, each a first login
/// without history, which is exactly what an attacker varying the spelling wants. So the state key is
/// the id trimmed of surrounding white space, lower-cased (Unicode's default lower-case mapping, as
/// Keycloak does) and then put in NFC, the composed form Swift's own `String` comparison and hashing
/// use. The decision, alerts and output key keep the id as the IdP sent it: it is what the IdP's
/// waiting login and the analyst look up.
///
/// An id containing a control character (NUL, C1, line or paragraph separators) or an invisible
/// format character (zero-width space and joiners, bidirectional overrides, the byte-order mark)
/// is refused, as is one that is blank after trimming: no IdP issues such ids, and an id that looks
/// like another on screen but keys other state is a disguise, not a user.
enum UserIdentity {
    /// Why `id` cannot name an account (a sentence for the dead letter), or nil when it can. `field`
    /// names it in the sentence: the same rule holds for the other identifiers an event carries
    /// (`event_id`, `tenant`), which are copied into outputs and, for the tenant, key state.
    static func problem(in id: String, field: String = "user.id") -> String? {
        var id = id
        let isPlainASCII = id.withUTF8 { bytes in bytes.allSatisfy { $0 &- 0x20 < 0x5F } }
        if !isPlainASCII {
            for scalar in id.unicodeScalars {
                switch scalar.properties.generalCategory {
                case .control, .format, .lineSeparator, .paragraphSeparator:
                    return "\(field) contains \(codePoint(scalar)), a control or invisible formatting character; "
                        + "an IdP's identifiers never do, so fix the producer of this event"
                default: continue
                }
            }
        }
        guard id.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
            return "\(field) is blank: it holds only white space"
        }
        return nil
    }

    /// Appends the state key of `id` (see the type's rules) to `hasher`. Ids of printable ASCII without
    /// upper case or spaces, the usual form, are their own key and are hashed as they are.
    static func appendKey(of id: String, to hasher: inout SipHashState) {
        hasher.append(normalised(id))
    }

    /// The id as the state key compares it: `key(of:)`, skipped for an id that is its own key.
    static func normalised(_ id: String) -> String {
        var id = id
        let isOwnKey = id.withUTF8 { bytes in
            bytes.allSatisfy { $0 &- 0x21 < 0x5E && $0 &- UInt8(ascii: "A") >= 26 }
        }
        return isOwnKey ? id : key(of: id)
    }

    /// The id trimmed, lower-cased and in NFC.
    static func key(of id: String) -> String {
        let scalars = id.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        let lowered = String(scalars[first...last]).lowercased()
        // The standard library's NFC, the form its `String` equality and hashing compare in; lower-casing
        // comes first because it can leave a string that is no longer composed ("İ" becomes "i" and a
        // combining dot).
        return String(decoding: lowered._nfcCodeUnits, as: UTF8.self)
    }

    private static func codePoint(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
