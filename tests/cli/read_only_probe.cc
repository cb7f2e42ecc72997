// Opens a data dir the way operators' tools and scripts do, for rebuild_defects_test.py: plain
// RocksDB, DB::OpenForReadOnly with default options (no Cairn merge operator) and every column
// family that DB::ListColumnFamilies names.
//
//   read_only_probe DIR                 # prints "opened N families", or RocksDB's error (exit 1)
//   read_only_probe DIR FAMILY KEY      # then prints the value of KEY in FAMILY, or "(none)"
#include <rocksdb/db.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2 && argc != 4) {
    std::fprintf(stderr, "usage: read_only_probe DIR [FAMILY KEY]\n");
    return 2;
  }
  rocksdb::DBOptions options;
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(options, argv[1], &names);
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const std::string& name : names) families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  if (s.ok()) s = rocksdb::DB::OpenForReadOnly(options, argv[1], families, &handles, &raw);
  if (!s.ok()) {
    std::printf("%s\n", s.ToString().c_str());
    return 1;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  std::printf("opened %zu families\n", names.size());
  int code = 0;
  if (argc == 4) {
    rocksdb::ColumnFamilyHandle* family = nullptr;
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == argv[2]) family = handles[i];
    }
    std::string value;
    s = family ? db->Get(rocksdb::ReadOptions(), family, argv[3], &value)
               : rocksdb::Status::NotFound("no family ", argv[2]);
    if (s.ok()) {
      std::printf("%s\n", value.c_str());
    } else if (s.IsNotFound() && family) {
      std::printf("(none)\n");
    } else {
      std::printf("%s\n", s.ToString().c_str());
      code = 1;
    }
  }
  for (rocksdb::ColumnFamilyHandle* h : handles) db->DestroyColumnFamilyHandle(h);
  return code;
}
