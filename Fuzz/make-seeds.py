#!/usr/bin/env python3
"""Writes the seed corpora in Corpus/<target>/ (committed; rerun only to change them)."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    folder = os.path.join(HERE, "Corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


# migration.yaml
BASE = """dumper:
  worker:
    workMode: milvus1x
    limit: 4
    reader:
      bufferSize: 2048
loader:
  worker:
    limit: 3
    importTimeout: 600
meta:
  mode: sqlite
  sqliteFile: /data/milvus/db/meta.sqlite
source:
  mode: local
  local:
    tablesDir: /data/milvus/db/tables
target:
  mode: local
  local:
    outputDir: /data/stage
  milvus2x:
    endpoint: localhost:19530
    username: root
    password: ${MM_FUZZ:-Milvus}
    onExisting: append
    shardsNum: 2
    createIndex: true
    tls:
      serverName: milvus.local
    collections:
      Old_Name: new_name
"""
write("FuzzConfig", "local.yaml", BASE)
write("FuzzConfig", "remote.yaml", """dumper:
  worker:
    workMode: milvus1x
meta:
  mode: mysql
  mysqlUrl: "root:pw@tcp(127.0.0.1:3306)/milvus?charset=utf8mb4"
source:
  mode: remote
  remote:
    tablesDir: milvus/db/tables
    cloud: aws
    endpoint: 127.0.0.1:9000
    region: us-east-1
    bucket: src
    ak: minioadmin
    sk: ${MM_FUZZ}
    useSSL: false
target:
  mode: remote
  remote:
    outputDir: out/
    cloud: aws
    endpoint: 127.0.0.1:9000
    bucket: a-bucket
    useIAM: false
    checkBucket: true
  milvus2x:
    endpoint: https://milvus.example:19530
    grpc:
      maxCallRecvMsgSize: 67108864
""")
write("FuzzConfig", "mock.yaml", "dumper: {worker: {workMode: milvus1x}}\nmeta: {mode: mock, mockFile: 'meta.json'}\n")
write("FuzzConfig", "flow.yaml", "Dumper:\n  Worker:\n    WorkMode: \"milvus1x\" # comment\nmeta:\n  mode: local\n  localFile: $${x}\n")

# meta.json: this tool's format and the reference tool's
OURS = """{"collections":[{"collection":"books","metric":1,"rows":5,"dim":4,"segments":[
{"collection":"books","segment":"1700000000000000001","dim":4,"rows":3,"fileSize":96,"fileType":1,"createdOn":1700000000},
{"collection":"1700000000000000100","segment":"1700000000000000002","dim":4,"rows":2,"fileSize":48,"fileType":2,"createdOn":1700000000}],
"vectorKind":"float","metricName":"L2","engineType":1,"engineName":"FLAT","indexParams":"{\\"nlist\\":16384}",
"indexFileSize":1073741824,"flag":0,"createdOn":1700000000,"version":"0.6.0","deletedRows":1,
"partitions":[{"tableId":"books","tag":null,"name":"_default","rows":3,"deletedRows":1,"segments":["1700000000000000001"]},
{"tableId":"1700000000000000100","tag":"2021-01","name":"p_2021_01","rows":2,"deletedRows":0,"segments":["1700000000000000002"]}]},
{"collection":"prints","metric":3,"rows":1,"dim":64,"segments":[{"collection":"prints","segment":"1700000000000000003","dim":64,"rows":1,"fileSize":16}],
"vectorKind":"binary","metricName":"JACCARD","engineType":2,"indexParams":"{}","partitions":[]}],
"rows":6,"format":"milvus-migration/1"}"""
write("FuzzMetaJSON", "ours.json", OURS)
write("FuzzMetaJSON", "reference.json",
      '{"collections":[{"collection":"test1w","metric":1,"rows":10000,"dim":256,"segments":[{"collection":"test1w",'
      '"segment":"1678354366132931000","dim":256,"rows":10000,"fileSize":10320000}]}],"rows":10000}')
write("FuzzMetaJSON", "empty.json", '{"collections":[],"rows":0}')

# MySQL DSNs
for i, dsn in enumerate([
    "root:123456@tcp(127.0.0.1:3306)/milvus?charset=utf8mb4&parseTime=True&loc=Local",
    "u:p@ss@unix(/var/run/mysqld/mysqld.sock)/milvus?loc=Local",
    "u:p@tcp([::1]:3310)/m?tls=skip-verify&timeout=1m30s",
    "mysql://root:s%40cr%3At%2F%25@db.local:3307/mil%76us?tls=true&tlsCA=%2Fetc%2Fca.pem&readTimeout=500ms&writeTimeout=2",
    "mysql://u@[fe80::1]:3306/m?socket=/tmp/my.sock",
    "reader@tcp(10.0.0.5)/milvus",
]):
    write("FuzzMySQLDSN", f"dsn{i}.txt", dsn)


# .npy headers (as numpy.save writes version 1.0, and versions 2.0 / 3.0)
def npy(descr, shape, major=1, fortran=False, pad=True):
    shape_text = "(%s,)" % shape[0] if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, "True" if fortran else "False", shape_text)
    pre = 10 if major == 1 else 12
    body = d.encode()
    total = (pre + len(body) + 1 + 63) // 64 * 64 if pad else pre + len(body) + 1
    body += b" " * (total - pre - len(body) - 1) + b"\n"
    length = struct.pack("<H", len(body)) if major == 1 else struct.pack("<I", len(body))
    return b"\x93NUMPY" + bytes([major, 0]) + length + body


write("FuzzNumPy", "ids.npy", npy("<i8", [3]) + struct.pack("<3q", 1, 2, 3))
write("FuzzNumPy", "vectors.npy", npy("<f4", [3, 4]))
write("FuzzNumPy", "binary.npy", npy("|u1", [3, 2]))
write("FuzzNumPy", "v2.npy", npy("<f4", [2, 8], major=2))
write("FuzzNumPy", "v3-fortran.npy", npy("<i8", [5], major=3, fortran=True))


# Segments: flags dim row_count file_size len(rv) len(uid) rv uid deleted_docs
def segment(flags, dim, rows, row_count, deleted, binary=False, file_size=None):
    per_row = dim // 8 if binary else 4 * dim
    rv = struct.pack("<Q", rows * per_row) + bytes(range(256)) * 0 + b"\x01" * (rows * per_row)
    uid = struct.pack("<Q", rows * 8) + b"".join(struct.pack("<q", 100 + i) for i in range(rows))
    dd = struct.pack("<Q", 4 * len(deleted)) + b"".join(struct.pack("<i", o) for o in deleted)
    raw_dim = dim // 8 - 1 if binary else dim - 1
    if file_size is None:
        file_size = rows * (per_row + 8)
    head = struct.pack("<BHqqHH", flags | (1 if binary else 0), raw_dim, row_count, file_size, len(rv), len(uid))
    return head + rv + uid + dd


write("FuzzSegment", "float.bin", segment(0, 4, 3, 2, [1]))
write("FuzzSegment", "binary.bin", segment(0, 16, 4, 4, [], binary=True))
write("FuzzSegment", "duplicates.bin", segment(0, 2, 5, 1, [0, 0, 3, 7, -1, 2, 4, 1]))
write("FuzzSegment", "two-rv.bin", segment(16, 2, 1, 1, []))
write("FuzzSegment", "no-deleted.bin", segment(8, 2, 1, 1, []))

# S3 XML answers
write("FuzzS3XML", "error.xml", '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>'
      '<Resource>/bucket/key</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>')
write("FuzzS3XML", "redirect.xml", '<Error><Code>PermanentRedirect</Code><Message>use the endpoint</Message><Region>eu-west-1</Region>'
      '<Endpoint>bucket.s3.eu-west-1.amazonaws.com</Endpoint></Error>')
write("FuzzS3XML", "list.xml", '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
      '<Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>'
      '<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>'
      '<Contents><Key>p/a&amp;b.npy</Key><Size>128</Size><ETag>&quot;abc&quot;</ETag></Contents>'
      '<CommonPrefixes><Prefix>p/c/</Prefix></CommonPrefixes></ListBucketResult>')
write("FuzzS3XML", "delete.xml", '<DeleteResult><Error><Key>k</Key><Code>AccessDenied</Code><Message>no</Message></Error></DeleteResult>')
write("FuzzS3XML", "upload.xml", '<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>')
write("FuzzS3XML", "sts.xml", '<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>AK</AccessKeyId>'
      '<SecretAccessKey>SK</SecretAccessKey><SessionToken>T</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration>'
      '</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>')

# Inputs that crashed Foundation's XMLParser before S3XMLNode.parse refused them (kept as seeds).
write("FuzzS3XML", "found-invalid-utf8-name.xml", b"<DeleteResult><Error><Key>k</Key><Code>AccessDenied</Code><Me\xc6sage>no</Messag&></Error></DeleteResult>")
write("FuzzS3XML", "found-pi-without-data.xml", b"<?St2F9?><Error><Code>SlowDown</Code></Error>")
write("FuzzS3XML", "found-pi-named-xml8.xml", b"<?xml8?><Error><Key>k</Key></Error>")
write("FuzzS3XML", "found-unclosed-declaration.xml", b"<?xml rsi1><Nam.e>b</<?x0?><\"?")

# GetImportStateResponse / ListImportTasksResponse, encoded by hand (protobuf wire format)
def varint(n):
    n &= (1 << 64) - 1
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, wire, payload):
    key = varint(num << 3 | wire)
    return key + (varint(payload) if wire == 0 else varint(len(payload)) + payload)


def kv(k, v):
    return field(1, 2, k.encode()) + field(2, 2, v.encode())


def state(status_code, st, rows, task_id, infos):
    # GetImportStateResponse: status=1 state=2 row_count=3 id_list=4 infos=5 id=6 collection_id=7 segment_ids=8 create_ts=9
    status = (field(1, 0, 1) + field(2, 2, b"collection not found") + field(3, 0, status_code)) if status_code else b""
    out = field(1, 2, status) + field(2, 0, st) + field(3, 0, rows) + field(6, 0, task_id)
    out += field(4, 2, varint(1) + varint(2))
    for k, v in infos:
        out += field(5, 2, kv(k, v))
    return out + field(7, 0, 444) + field(9, 0, 1700000000)


done = state(0, 6, 3, 4242, [("collection", "books"), ("partition", "_default"), ("files", "c/1/id.npy, c/1/data.npy")])
failed = state(0, 1, 0, 4243, [("failed_reason", "task marked failed as service restarted"), ("files", "c/1/id.npy,c/1/data.npy")])
write("FuzzImportState", "completed.bin", done)
write("FuzzImportState", "failed.bin", failed)
write("FuzzImportState", "started.bin", state(0, 2, 0, 4244, [("progress_percent", "10")]))
write("FuzzImportState", "error.bin", state(65535, 0, 0, 0, []))
# ListImportTasksResponse: status=1 tasks=2
write("FuzzImportState", "list.bin", field(1, 2, b"") + field(2, 2, done) + field(2, 2, failed))
