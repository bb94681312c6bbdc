import Foundation

/// Security Event Tokens as a transmitter writes them, for tests of Vigil's SET input.
public enum SecurityEventTokens {
    /// `claims` as a compact JWS: base64url header and claims and a placeholder signature (Vigil's input
    /// reads the claims; the signature is not checked).
    public static func compact(_ claims: String) -> String {
        func encode(_ text: String) -> String {
            Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        return encode(#"{"alg":"RS256","typ":"secevent+jwt","kid":"k1"}"#) + "." + encode(claims) + ".c2lnbmF0dXJl"
    }
}
