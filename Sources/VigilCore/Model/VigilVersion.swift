/// The version Vigil reports in headers, OCSF metadata and `vigil --version`.
public enum VigilVersion {
    /// Semantic version of this build.
    public static let current = "0.1.0"
}
