"""Permission groups: the PermissionsGroup model's rules (magic groups stay, names are unique) and its events."""

from __future__ import annotations

from .. import errors
from ..store import Row, State

PREMIUM_GROUP_MANAGER = (
    "Group manager is a paid feature not currently available to your instance. "
    "Please upgrade to use it. Learn more at metabase.com/upgrade/"
)



def premium_error(message: str) -> errors.ApiError:
    return errors.ApiError(402, {"message": message, "status": "error-premium-feature-not-available"})



def group_or_404(state: State, group_id: int) -> Row:
    group = state.table("permissions_group").get(group_id)
    if group is None:
        raise errors.not_found()
    return group



def check_not_magic(group: Row) -> None:
    if group.get("magic_group_type"):
        raise errors.bad_request(f"You cannot edit or delete the '{group['name']}' permissions group!")



def check_name_free(state: State, name: str) -> None:
    # Case-insensitive, and a group's own name counts: renaming "Sales" to "sales" is refused too.
    if state.table("permissions_group").first(lambda g: g["name"].lower() == name.lower()):
        raise errors.bad_request("A group with that name already exists.")


def create_group(state: State, name: str, *, is_tenant_group: bool = False) -> Row:
    """A new group (the permission graphs give it its defaults through `group.created`)."""
    check_name_free(state, name)
    group = state.table("permissions_group").insert({"name": name, "magic_group_type": None,
                                                     "is_tenant_group": is_tenant_group})
    state.emit("group.created", group=group)
    return group


def delete_group(state: State, group_id: int) -> None:
    """A group and its memberships go; the permission graphs drop its grants through `group.deleted`. An unknown id
    deletes nothing (Metabase still answers 204)."""
    group = state.table("permissions_group").get(group_id)
    if group is None:
        return
    check_not_magic(group)
    memberships = state.table("permissions_group_membership")
    for m in memberships.where(group_id=group_id):
        memberships.delete(m["id"])
    state.table("permissions_group").delete(group_id)
    state.emit("group.deleted", group=group)


ALL_USERS = "all-internal-users"



ADMIN = "admin"

# permissions_group.clj `all-external-users-magic-group-type`: the magic "All tenant users" group (a tenant group).
ALL_TENANT_USERS = "all-external-users"
ALL_TENANT_USERS_NAME = "All tenant users"



def init_state(state: State) -> None:
    """A fresh Metabase has exactly two groups: All Users and Administrators (magic_group_type set)."""
    groups = state.table("permissions_group")
    if not groups.rows:
        groups.insert({"name": "All Users", "magic_group_type": ALL_USERS, "is_tenant_group": False})
        groups.insert({"name": "Administrators", "magic_group_type": ADMIN, "is_tenant_group": False})



def find_magic_group(state: State, kind: str) -> Row | None:
    """The group of a magic type; None for one not made yet (All tenant users exists once tenants are used)."""
    return state.table("permissions_group").first(magic_group_type=kind)


def magic_group(state: State, kind: str) -> Row:
    """A group every instance has (init_state creates Administrators and All Users)."""
    group = find_magic_group(state, kind)
    if group is None:
        raise LookupError(f"no {kind} group")
    return group


def ensure_all_tenant_users(state: State) -> Row:
    """The "All tenant users" magic group, made the first time `use-tenants` is turned on (permissions/api.clj
    `turn-on-tenants!` -> `perms-group/create-all-external-users!`). It stays once made: newer releases keep it and
    only hide tenant groups while tenants are off (permissions/settings.clj `update-use-tenants!` no longer deletes it;
    permissions_rest/api.clj `GET /group`)."""
    group = find_magic_group(state, ALL_TENANT_USERS)
    if group is None:
        group = state.table("permissions_group").insert(
            {"name": ALL_TENANT_USERS_NAME, "magic_group_type": ALL_TENANT_USERS, "is_tenant_group": True})
        state.emit("group.created", group=group)
    return group
