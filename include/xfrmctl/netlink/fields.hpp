// A kernel entry's configuration as one list of named fields. Its one-line
// description, its comparison and the names of the fields in which two
// entries differ all follow from that list, so that a field is printed
// wherever it is compared: two entries that differ never print the same.
#pragma once

#include <span>
#include <string>
#include <vector>

namespace xfrmctl::netlink {

template <typename Entry>
struct EntryField {
    const char* name;                                // as a difference names it: "if_id", "lifetime"
    std::string (*text)(const Entry& e);             // " if_id 7" for the description; "" when unset
    bool (*same)(const Entry& a, const Entry& b, bool keys); // keys: compare key fingerprints too
};

template <typename Entry>
std::string describe_fields(std::string head, std::span<const EntryField<Entry>> fields, const Entry& e)
{
    for (const auto& f : fields)
        head += f.text(e);
    return head;
}

template <typename Entry>
bool same_fields(std::span<const EntryField<Entry>> fields, const Entry& a, const Entry& b, bool keys)
{
    for (const auto& f : fields)
        if (!f.same(a, b, keys))
            return false;
    return true;
}

template <typename Entry>
std::vector<std::string> differing_fields(std::span<const EntryField<Entry>> fields, const Entry& a, const Entry& b,
                                          bool keys)
{
    std::vector<std::string> names;
    for (const auto& f : fields)
        if (!f.same(a, b, keys))
            names.emplace_back(f.name);
    return names;
}

// "if_id", "if_id and lifetime", "mode, if_id and lifetime".
std::string join_names(const std::vector<std::string>& names);

} // namespace xfrmctl::netlink
