/// Which 1.x names may become path components and 2.x names (docs/FORMAT.md §2, §7).
public enum NameRules {
    /// 1.x collection names: `[A-Za-z_][A-Za-z0-9_]*`, at most 255 characters. Also the subset of
    /// names every 2.x version accepts for collections and partitions.
    public static func isValidCollectionName(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 255 else { return false }
        guard isLetter(first) || first == UInt8(ascii: "_") else { return false }
        return name.utf8.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") }
    }

    /// Segment ids, file ids and partition table ids: decimal digits only.
    public static func isNumericId(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64 && id.utf8.allSatisfy(isDigit)
    }

    /// The 2.x partition name for a 1.x tag (docs/FORMAT.md §7.3): every character outside `[A-Za-z0-9_]`
    /// becomes `_`, a leading digit gets a `_` prefix, an empty result is `_`, and the result
    /// is cut to 255 characters. Collisions are detected by the caller.
    public static func partitionName(forTag tag: String) -> String {
        var out = String()
        out.unicodeScalars.reserveCapacity(tag.unicodeScalars.count + 1)
        for scalar in tag.unicodeScalars {
            if scalar.isASCII, isLetter(UInt8(scalar.value)) || isDigit(UInt8(scalar.value)) || scalar == "_" {
                out.unicodeScalars.append(scalar)
            } else {
                out.unicodeScalars.append("_")
            }
        }
        if let first = out.utf8.first, isDigit(first) { out = "_" + out }
        if out.isEmpty { out = "_" }
        if out.utf8.count > 255 { out = String(out.prefix(255)) }
        return out
    }

    private static func isLetter(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
}
