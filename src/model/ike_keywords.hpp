// strongSwan proposal keywords ("aes256gcm16-prfsha384-x25519"), checked
// against the algorithms we let through: a typo or a weak algorithm is
// refused here, with the token named, rather than by charon at run time.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace xfrmctl::model {

enum class ProposalFor { ike, esp };

// Why `text` is not an acceptable proposal, or nothing when it is.
std::optional<std::string> check_strongswan_proposal(std::string_view text, ProposalFor use);

// The key exchange (DH) group a proposal names, if any ("x25519").
std::optional<std::string> dh_group_of(std::string_view text);

} // namespace xfrmctl::model
