import _VigilMachinery

extension InputFormat {
    /// The format whose record shape `bytes` (one message) has, when exactly one format's does: for a
    /// replay given no `--format`. Each format is recognised by the members only it writes at the top
    /// level: Vigil's `event_id` and `type`; Okta's `uuid` and `eventType`, or an Event Hook's `data.events`
    /// array; Auth0's `log_id`, or a `data`
    /// (or EventBridge `detail.data`) object with a `type`; Keycloak's `realmId`, or a `type` with an integer
    /// `time`; Entra's `records` array, or a `category` with a `properties` object; a Security Event Token by
    /// its compact JWS form (claims as JSON are not told from other formats). Nil when no format or
    /// more than one matches, and for bytes that are not a JSON object.
    public static func detect(_ bytes: UnsafeRawBufferPointer) -> InputFormat? {
        // A compact JWS whose header is JSON ("eyJ" is base64url for `{"`): a Security Event Token.
        if bytes.starts(with: Array("eyJ".utf8)), bytes.split(separator: UInt8(ascii: ".")).count == 3 {
            return .ssf
        }
        guard UTF8Validation.firstInvalidOffset(bytes) == nil,
            let object = try? JSONValue.parse(bytes, maxDepth: 64, as: DecodeFailure.self).object
        else { return nil }
        let type = object["type"]?.string
        var matches: Set<InputFormat> = []
        if object["event_id"] != nil, type != nil { matches.insert(.vigil) }
        if (object["uuid"] != nil && object["eventType"] != nil) || object["data"]?.object?["events"]?.array != nil {
            matches.insert(.okta)
        }
        if object["log_id"] != nil || object["data"]?.object?["type"] != nil
            || object["detail"]?.object?["data"]?.object != nil
        {
            matches.insert(.auth0)
        }
        if object["realmId"] != nil || (type != nil && object["time"]?.integer != nil) { matches.insert(.keycloak) }
        if object["records"]?.array != nil || (object["category"] != nil && object["properties"]?.object != nil) {
            matches.insert(.entra)
        }
        return matches.count == 1 ? matches.first : nil
    }
}
