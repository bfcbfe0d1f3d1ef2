# What PostgreSQL's parser (pglast) says of each statement, in the form tests/classify_pglast.rs
# prints for cruddur_db::sql::classify: statements on stdin separated by NUL bytes, one
# line out per statement.
import sys
from pglast import parse_sql

RELATION_DROPS = {"table", "view", "matview", "index", "sequence", "foreign_table"}


def rel(rv):
    return ("only " if not rv.inh else "") + (rv.schemaname or "") + "." + rv.relname


def modifies(stmt, out):
    wc = getattr(stmt, "withClause", None)
    if wc is not None:
        for cte in wc.ctes:
            modifies(cte.ctequery, out)
    t = type(stmt).__name__
    if t == "InsertStmt":
        out.append("insert:" + rel(stmt.relation) + ":-")
    elif t == "MergeStmt":
        out.append("merge:" + rel(stmt.relation) + ":-")
    elif t in ("UpdateStmt", "DeleteStmt"):
        verb = "update" if t == "UpdateStmt" else "delete"
        limited = "where" if stmt.whereClause is not None else "all"
        out.append(verb + ":" + rel(stmt.relation) + ":" + limited)


def object_name(parts):
    names = [p.sval for p in parts]
    return (names[-2] if len(names) > 1 else "") + "." + names[-1]


ACTIONS = {"AT_DropColumn": "drop_column", "AT_AlterColumnType": "alter_type",
           "AT_SetNotNull": "set_not_null"}
TX = {"TRANS_STMT_SAVEPOINT": "savepoint", "TRANS_STMT_RELEASE": "release",
      "TRANS_STMT_ROLLBACK_TO": "rollback_to", "TRANS_STMT_PREPARE": "prepare",
      "TRANS_STMT_COMMIT_PREPARED": "commit_prepared",
      "TRANS_STMT_ROLLBACK_PREPARED": "rollback_prepared"}
OTHER_DROPS = {"DropdbStmt": "database", "DropRoleStmt": "role", "DropOwnedStmt": "owned",
               "DropTableSpaceStmt": "tablespace", "DropSubscriptionStmt": "subscription",
               "DropUserMappingStmt": "user_mapping"}


def classify(stmt):
    t = type(stmt).__name__
    kind, tx, writes, actions = "other", "-", [], []
    mods = []
    modifies(stmt, mods)
    writes = [m.split(":")[1] for m in mods]
    if t == "SelectStmt":
        kind = "select"
    elif t in ("InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"):
        kind = t[:-4].lower()
    elif t == "TruncateStmt":
        kind = "truncate"
        writes += [rel(r) for r in stmt.relations]
    elif t == "DropStmt":
        obj = stmt.removeType.name[len("OBJECT_"):].lower()
        kind = "drop:" + obj
        if obj in RELATION_DROPS:
            writes += [object_name(o) for o in stmt.objects]
    elif t in OTHER_DROPS:
        kind = "drop:" + OTHER_DROPS[t]
    elif t == "AlterTableStmt" and stmt.objtype.name == "OBJECT_TABLE":
        kind = "alter_table"
        writes.append(rel(stmt.relation))
        actions = [ACTIONS.get(c.subtype.name, "other") for c in stmt.cmds]
    elif t == "RenameStmt" and stmt.relation is not None and (
        stmt.renameType.name in ("OBJECT_TABLE", "OBJECT_TABCONSTRAINT")
        or (stmt.renameType.name == "OBJECT_COLUMN"
            and stmt.relationType.name == "OBJECT_TABLE")):
        kind = "alter_table"
        writes.append(rel(stmt.relation))
        # A constraint's new name is nothing an application queries by.
        actions = ["other" if stmt.renameType.name == "OBJECT_TABCONSTRAINT" else "rename"]
    elif t == "TransactionStmt":
        kind = "tx"
        k = stmt.kind.name
        if k in ("TRANS_STMT_BEGIN", "TRANS_STMT_START"):
            tx = "begin+modes" if stmt.options else "begin"
        elif k == "TRANS_STMT_COMMIT":
            tx = "commit+chain" if stmt.chain else "commit"
        elif k == "TRANS_STMT_ROLLBACK":
            tx = "rollback+chain" if stmt.chain else "rollback"
        else:
            tx = TX[k]
    elif t.startswith("Create") or t in ("IndexStmt", "ViewStmt", "CompositeTypeStmt",
                                         "DefineStmt", "RuleStmt"):
        kind = "create"
    return "kind=%s|tx=%s|mods=%s|writes=%s|actions=%s" % (
        kind, tx, ",".join(sorted(mods)), ",".join(sorted(writes)),
        ",".join(sorted(actions)))


for sql in sys.stdin.read().split("\0"):
    if not sql:
        continue
    try:
        stmts = parse_sql(sql)
        if len(stmts) != 1:
            raise ValueError("%d statements" % len(stmts))
        line = classify(stmts[0].stmt)
    except Exception as e:
        line = "ERROR " + str(e).replace("\n", " ")
    sys.stdout.write(line + "\n")
