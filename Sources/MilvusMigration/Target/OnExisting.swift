/// What `load` and `start` do when the 2.x collection already exists
/// (`target.milvus2x.onExisting`): refuse, leave it as it is, import into it, or drop and
/// recreate it.
public enum OnExisting: String, Sendable, CaseIterable {
    case fail, skip, append, drop
}
