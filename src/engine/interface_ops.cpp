#include "interface_ops.hpp"

#include <netlink/errno.h>

namespace xfrmctl::engine {

using plan::Change;
using plan::Op;

namespace {

Result<int> index_of(netlink::Links& links, const std::string& name)
{
    auto link = links.find(name);
    if (!link)
        return fail(link.error());
    if (!*link)
        return fail("link " + name + " does not exist", NLE_NODEV);
    return (*link)->index;
}

bool already_gone(const Status& s)
{
    int e = s ? 0 : s.error().errnum;
    return e == NLE_OBJ_NOTFOUND || e == NLE_NODEV || e == NLE_NOADDR;
}

Status apply_on_link(netlink::Links& links, const Change& c)
{
    auto index = index_of(links, c.link_name);
    if (!index)
        return fail(index.error());
    switch (c.op) {
    case Op::add_address: return links.add_address(*index, *c.prefix);
    case Op::remove_address: return links.remove_address(*index, *c.prefix);
    case Op::add_route: return links.add_route({*c.prefix, *index});
    default: return links.remove_route({*c.prefix, *index});
    }
}

} // namespace

Status apply_interface_change(netlink::Links& links, const Change& c)
{
    Status s;
    if (c.op == Op::add_link)
        s = links.create(*c.link);
    else if (c.op == Op::remove_link)
        s = links.remove(c.link->name);
    else
        s = apply_on_link(links, c);
    if (c.is_remove() && already_gone(s))
        return {};
    return s;
}

std::optional<Change> undo_interface_change(const Change& c)
{
    Change undo = c.clone();
    switch (c.op) {
    case Op::add_link: undo.op = Op::remove_link; break;
    case Op::remove_link: undo.op = Op::add_link; break; // its addresses and routes are lost
    case Op::add_address: undo.op = Op::remove_address; break;
    case Op::add_route: undo.op = Op::remove_route; break;
    default: return std::nullopt;
    }
    return undo;
}

} // namespace xfrmctl::engine
