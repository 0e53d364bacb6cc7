// The planner's part for interfaces (private to src/plan).
#pragma once

#include "xfrmctl/plan/planner.hpp"

namespace xfrmctl::plan {

class InterfacePlanner {
public:
    InterfacePlanner(const LinkSnapshot& links, const state::Ledger& ledger, TunnelPlan& out)
        : links_(links), ledger_(ledger), out_(out)
    {
    }
    void plan(const DesiredInterface& want);
    void sweep(const state::OwnedTunnel& owned, const std::set<std::string>& wanted, const std::string& reason);

private:
    bool plan_link(const DesiredInterface& want);
    void sweep_prefix(const std::string& key, const std::set<std::string>& removed_links, const std::string& reason);

    const LinkSnapshot& links_;
    const state::Ledger& ledger_;
    TunnelPlan& out_;
};

} // namespace xfrmctl::plan
