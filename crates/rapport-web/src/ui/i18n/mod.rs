//! Interface text in zh-CN and en, and choosing the language of a request: the language the
//! user picked (cookie, then profile), else the browser's Accept-Language, else zh-CN.

mod activities;
mod documents;
mod merges;
mod operations;
mod sales;

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh-CN" | "zh" | "zh-cn" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Pick from an Accept-Language header (first supported language by quality).
    pub fn from_accept(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim().to_lowercase();
            let q = pieces
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|v| v.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = if tag.starts_with("zh") {
                Some(Lang::Zh)
            } else if tag.starts_with("en") {
                Some(Lang::En)
            } else {
                None
            };
            if let Some(l) = lang {
                if best.is_none_or(|(bq, _)| q > bq) {
                    best = Some((q, l));
                }
            }
        }
        best.map(|(_, l)| l)
    }
}

/// (key, zh-CN, en)
const TEXT: &[(&str, &str, &str)] = &[
    ("app.name", "Rapport 客户管理", "Rapport CRM"),
    ("nav.home", "工作台", "Home"),
    ("nav.accounts", "客户", "Accounts"),
    ("nav.contacts", "联系人", "Contacts"),
    ("nav.settings", "系统设置", "Settings"),
    ("nav.audit", "审计日志", "Audit log"),
    ("nav.users", "用户", "Users"),
    ("nav.security", "账号安全", "Security"),
    ("nav.logout", "退出登录", "Sign out"),
    (
        "nav.search",
        "搜索名称、编号、电话、邮箱（Ctrl+K）",
        "Search names, numbers, phone, email (Ctrl+K)",
    ),
    ("nav.language", "语言", "Language"),
    ("nav.menu", "菜单", "Menu"),
    ("login.title", "登录", "Sign in"),
    ("login.email", "邮箱", "Email"),
    ("login.password", "密码", "Password"),
    (
        "login.totp",
        "动态验证码（已开启两步验证时填写）",
        "Authenticator code (if two-step sign-in is on)",
    ),
    ("login.submit", "登录", "Sign in"),
    (
        "login.failed",
        "邮箱或密码不正确",
        "The email or password is not correct",
    ),
    (
        "login.mfa",
        "请输入身份验证器中的 6 位验证码",
        "Enter the 6-digit code from your authenticator app",
    ),
    (
        "login.throttled",
        "尝试次数过多，请稍后再试",
        "Too many attempts; try again later",
    ),
    ("setup.title", "欢迎使用 Rapport", "Welcome to Rapport"),
    (
        "setup.intro",
        "创建第一个管理员账号。此页面只在系统还没有任何用户时出现。",
        "Create the first administrator. This page only appears while there are no users.",
    ),
    ("setup.name", "姓名", "Name"),
    (
        "setup.sample",
        "同时生成示例数据（演示用）",
        "Also create sample data (for a demo)",
    ),
    ("setup.submit", "创建管理员", "Create administrator"),
    ("list.new", "新建", "New"),
    ("list.export", "导出 CSV", "Export CSV"),
    ("record.transfer_reason", "转移原因", "Reason for the transfer"),

    ("list.empty", "没有符合条件的记录", "No matching records"),
    ("search.more", "查看全部", "See all"),
    ("error.not_found", "找不到页面", "Page not found"),
    ("error.forbidden", "没有权限", "Not allowed"),
    ("error.conflict", "有冲突", "Conflict"),
    ("error.internal", "服务器内部错误", "Internal error"),
    ("error.refused", "无法完成", "Cannot be done"),
    ("error.home", "返回工作台", "Back to the home page"),
    (
        "error.internal_detail",
        "服务器出现内部错误，已记录日志。请稍后重试；若问题持续，请联系管理员。",
        "Something went wrong on the server and it was logged. Try again later; if it goes on, tell your administrator.",
    ),
    (
        "error.no_page",
        "此地址没有页面。请检查链接，或从工作台重新开始。",
        "There is no page at this address. Check the link, or start again from the home page.",
    ),
    ("list.next", "下一页", "Next page"),
    ("list.filter", "筛选", "Filter"),
    ("list.apply", "应用", "Apply"),
    ("list.clear", "清除", "Clear"),
    ("list.search", "快速搜索", "Quick search"),
    ("list.save_view", "保存视图", "Save view"),
    ("list.view_name", "视图名称", "View name"),
    ("list.views", "已保存的视图", "Saved views"),
    ("list.share", "共享给本部门", "Share with my department"),
    ("list.columns", "显示列", "Columns"),
    ("list.columns_hint", "勾选要显示的列，数字决定顺序", "Tick the columns to show; the numbers set their order"),
    ("list.position", "顺序", "Position"),

    ("list.sort", "排序", "Sort"),
    ("op.eq", "等于", "is"),
    ("op.ne", "不等于", "is not"),
    ("op.contains", "包含", "contains"),
    ("op.starts_with", "开头是", "starts with"),
    ("op.gt", "大于", "greater than"),
    ("op.gte", "大于等于", "at least"),
    ("op.lt", "小于", "less than"),
    ("op.lte", "小于等于", "at most"),
    ("op.has", "含有标签", "has tag"),
    ("op.is_empty", "为空", "is empty"),
    ("op.is_not_empty", "不为空", "is not empty"),
    ("form.save", "保存", "Save"),
    ("form.cancel", "取消", "Cancel"),
    ("form.edit", "编辑", "Edit"),
    ("form.delete", "删除", "Delete"),
    (
        "form.delete_confirm",
        "确定删除这条记录吗？此操作不可撤销。",
        "Delete this record? This cannot be undone.",
    ),
    (
        "form.errors",
        "请修正标出的字段",
        "Please correct the marked fields",
    ),
    ("form.duplicates", "可能存在重复记录", "Possible duplicates"),
    (
        "form.duplicate_hidden",
        "一条您无权查看的记录",
        "a record you may not see",
    ),
    ("form.override", "仍然保存", "Save anyway"),
    (
        "form.comma",
        "多个值用逗号分隔",
        "Separate several values with commas",
    ),
    ("form.choose", "请选择", "Choose"),
    ("form.granted", "已同意", "Granted"),
    ("form.source", "获取方式", "How it was given"),
    ("record.history", "变更历史", "Change history"),
    ("record.related_contacts", "相关联系人", "Related contacts"),
    ("record.related_accounts", "所属客户", "Accounts"),
    ("record.created", "创建时间", "Created"),
    ("record.updated", "更新时间", "Updated"),
    ("record.by", "操作人", "By"),
    (
        "record.not_found",
        "记录不存在，或您无权查看",
        "No such record, or you may not see it",
    ),
    (
        "record.changed_meanwhile",
        "该记录在您打开之后已被他人修改，请刷新后重新操作",
        "The record was changed by someone else since you opened it; reload it and try again",
    ),
    ("record.unreadable_value", "无法解密", "Cannot be decrypted"),
    (
        "record.unreadable",
        "此记录的部分数据无法用当前密钥解密，请联系管理员恢复所需密钥（rapport keys status 列出受影响的记录）；在此之前该记录不能修改。",
        "Some values of this record cannot be decrypted with the loaded keys. Ask an administrator to restore the key they need (rapport keys status lists the affected records); until then the record cannot be changed.",
    ),
    ("record.yes", "是", "Yes"),
    ("record.no", "否", "No"),
    ("action.account.created", "创建", "Created"),
    ("action.account.updated", "修改", "Changed"),
    ("action.account.transferred", "转移负责人", "Transferred"),
    ("action.contact.created", "创建", "Created"),
    ("action.contact.updated", "修改", "Changed"),
    ("action.contact.transferred", "转移负责人", "Transferred"),
    ("security.sessions", "登录会话", "Sessions"),
    ("security.current", "当前会话", "This session"),
    ("security.revoke", "注销", "Revoke"),
    ("security.tokens", "API 令牌", "API tokens"),
    ("security.token_name", "令牌名称", "Token name"),
    ("security.read_only", "只读", "Read-only"),
    ("security.read_write", "读写", "Read and write"),
    ("security.expires", "过期时间（可选）", "Expires (optional)"),
    ("security.create_token", "创建令牌", "Create token"),
    (
        "security.token_once",
        "请立即复制此令牌，它只显示这一次：",
        "Copy this token now; it is shown only once:",
    ),
    ("security.mfa", "两步验证", "Two-step sign-in"),
    ("security.mfa_on", "已开启", "On"),
    ("security.mfa_off", "未开启", "Off"),
    (
        "security.mfa_start",
        "开启两步验证",
        "Turn on two-step sign-in",
    ),
    (
        "security.mfa_scan",
        "用身份验证器扫描二维码，然后输入验证码确认。",
        "Scan the QR code with an authenticator app, then confirm with a code.",
    ),
    ("security.mfa_code", "验证码", "Code"),
    ("security.mfa_confirm", "确认", "Confirm"),
    (
        "security.mfa_disable",
        "关闭两步验证",
        "Turn off two-step sign-in",
    ),
    (
        "security.recovery",
        "恢复码（每个只能用一次，请妥善保存）：",
        "Recovery codes (each works once; keep them safe):",
    ),
    ("security.current_password", "当前密码", "Current password"),
    (
        "security.mfa_required",
        "您的角色要求开启两步验证，请先完成设置。",
        "Your role requires two-step sign-in; set it up first.",
    ),
    ("security.ip", "IP 地址", "IP address"),
    ("security.agent", "浏览器", "Browser"),
    ("security.last_seen", "最近活动", "Last active"),
    ("security.last_used", "最近使用", "Last used"),
    ("security.revoked", "已注销", "Revoked"),
    ("audit.title", "审计日志", "Audit log"),
    ("audit.when", "时间", "When"),
    ("audit.who", "用户", "Who"),
    ("audit.action", "操作", "Action"),
    ("audit.object", "对象", "Record"),
    ("audit.details", "详情", "Details"),
    ("audit.older", "更早的记录", "Older entries"),
    ("users.department", "部门", "Department"),
    ("users.roles", "角色", "Role"),
    ("users.manager", "上级", "Manager"),
    ("users.status", "状态", "Status"),
    ("users.active", "启用", "Active"),
    ("users.disabled", "已停用", "Disabled"),
    ("users.disable", "停用", "Disable"),
    ("users.enable", "启用", "Enable"),
    ("users.revoke_sessions", "强制下线", "End sessions"),
    ("users.view_as", "以其身份预览", "View as"),
    ("users.reset_password", "重置密码", "Reset password"),
    ("users.new_password", "新密码", "New password"),
    ("users.set_password", "设置新密码", "Set new password"),
    (
        "users.reset_password_hint",
        "至少 12 个字符。该用户的所有会话和 API 令牌将失效，账号锁定随之解除。",
        "At least 12 characters. The user's sessions and API tokens end and a sign-in lock on the account is lifted.",
    ),
    ("users.password_reset_done", "已设置新密码，其会话已结束：", "New password set; sessions ended for "),
    ("users.reset_mfa", "重置两步验证", "Reset two-step sign-in"),
    (
        "users.reset_mfa_confirm",
        "移除该用户的两步验证和恢复码？其会话将结束，之后可重新绑定。",
        "Remove this user's two-step sign-in and recovery codes? Their sessions end; they can enrol again.",
    ),
    ("users.mfa_reset_done", "已移除两步验证，其会话已结束：", "Two-step sign-in removed; sessions ended for "),
    (
        "users.viewing_as",
        "正在以此用户身份预览（只读）：",
        "Previewing as (read-only):",
    ),
    ("users.view_as_exit", "退出预览", "Stop previewing"),
    ("users.new", "新建用户", "New user"),
    ("users.create", "创建", "Create"),
    ("privacy.export", "导出个人数据", "Export personal data"),
    ("privacy.erase", "删除个人数据", "Erase personal data"),
    ("privacy.erase_confirm", "将永久清除此联系人的全部个人信息（保留匿名记录），确定吗？", "This permanently removes all personal data of this contact (an anonymous record remains). Continue?"),
    ("privacy.reason", "原因（将记入审计日志）", "Reason (kept in the audit log)"),
    ("bulk.confirm", "对所选记录执行此批量操作？", "Apply this action to the selected records?"),
    ("bulk.all_matching", "全部符合条件的记录", "All matching records"),
    ("bulk.action", "批量操作", "Bulk action"),
    ("bulk.add_tag", "添加标签", "Add tag"),
    ("bulk.remove_tag", "移除标签", "Remove tag"),
    ("bulk.assign_owner", "转移负责人", "Assign owner"),
    ("bulk.set_field", "修改字段", "Set field"),
    ("bulk.delete", "删除", "Delete"),
    ("bulk.tag", "标签", "Tag"),
    ("bulk.owner", "新负责人", "New owner"),
    ("bulk.field", "字段", "Field"),
    ("bulk.value", "新值", "New value"),
    ("bulk.reason", "原因", "Reason"),
    ("bulk.apply", "执行", "Apply"),
    ("bulk.done", "批量操作完成：成功 {ok} 条，失败 {failed} 条", "Bulk action done: {ok} succeeded, {failed} failed"),
    ("settings.title", "系统配置", "Configuration"),
    ("settings.saved", "已保存", "Saved"),
    ("settings.roles", "角色与字段权限", "Roles and field rules"),
    ("settings.new_role", "新建角色", "New role"),
    ("settings.role_key", "角色标识", "Role key"),
    ("settings.copy_from", "复制权限自", "Copy rights from"),
    ("settings.no_rights", "不复制（暂无权限）", "Nothing (no rights yet)"),
    ("settings.create_role", "创建角色", "Create role"),
    ("settings.delete_role", "删除角色", "Delete role"),
    ("settings.delete_role_confirm", "确定删除这个角色吗？没有用户使用时才能删除。", "Delete this role? Only a role nobody holds can be deleted."),
    ("settings.builtin_role", "内置角色：可修改，不可删除", "Built-in role: it can be changed, not deleted"),
    ("settings.custom_fields", "自定义字段", "Custom fields"),
    ("settings.departments", "部门", "Departments"),
    ("settings.department_name", "部门名称", "Department name"),
    ("settings.parent", "上级部门", "Parent department"),
    ("settings.object", "对象", "Object"),
    ("settings.key", "字段标识", "Key"),
    ("settings.kind", "类型", "Kind"),
    ("settings.flags", "属性", "Flags"),
    ("settings.default", "默认值", "Default"),
    ("settings.options", "选项（每行：值|中文|English）", "Options (one per line: value|中文|English)"),
    ("settings.required", "必填", "Required"),
    ("settings.sensitive", "敏感（加密存储）", "Sensitive (encrypted)"),
    ("settings.save_field", "保存字段", "Save field"),
    ("settings.picklists", "选项列表", "Picklists"),
    ("settings.list", "列表", "List"),
    ("settings.value", "值", "Value"),
    ("settings.duplicates", "查重规则", "Duplicate rules"),
    ("settings.imports", "导入文件保留", "Import files"),
    (
        "settings.imports_help",
        "导入结束后，上传文件中的原始行和失败行的原因保留多少天；到期自动删除（删除个人数据时立即删除其中涉及该人的行）。",
        "How many days after an import ends its uploaded rows and the reasons of failed rows are kept; then they are deleted (rows about a person are deleted at once when that person is erased).",
    ),
    ("settings.keep_raw_days", "保留天数（1–3650）", "Days to keep (1–3650)"),
    ("settings.rule_name", "客户名称", "company name"),
    ("settings.rule_credit_code", "信用代码", "credit code"),
    ("settings.rule_phone", "电话", "phone"),
    ("settings.rule_email", "邮箱", "email"),
    ("settings.mode_block", "禁止保存", "Block"),
    ("settings.mode_warn", "提醒", "Warn"),
    ("settings.mode_off", "关闭", "Off"),
    ("settings.field_rules", "字段权限", "Field rules"),
    ("settings.visible", "可见可编辑", "Visible and editable"),
    ("settings.read_only", "只读", "Read-only"),
    ("settings.hidden", "隐藏", "Hidden"),
    ("settings.require_mfa", "要求两步验证", "Require two-step sign-in"),
    ("settings.action_read", "查看", "Read"),
    ("settings.action_create", "新建", "Create"),
    ("settings.action_update", "编辑", "Update"),
    ("settings.action_delete", "删除", "Delete"),
    ("settings.action_export", "导出", "Export"),
    ("settings.action_transfer", "转移", "Transfer"),
    ("settings.object_user", "用户", "Users"),
    ("settings.object_role", "角色", "Roles"),
    ("settings.object_department", "部门", "Departments"),
    ("settings.object_audit", "审计日志", "Audit log"),
    ("settings.object_settings", "系统设置", "Settings"),
    ("home.welcome",

 "欢迎回来", "Welcome back"),
    ("home.accounts", "我可见的客户", "Accounts I can see"),
    ("home.contacts", "我可见的联系人", "Contacts I can see"),
    ("err.required", "必填", "Required"),
    (
        "err.invalid_phone",
        "电话号码格式不正确",
        "Not a valid phone number",
    ),
    (
        "err.invalid_email",
        "邮箱格式不正确",
        "Not a valid email address",
    ),
    (
        "err.invalid_credit_code",
        "统一社会信用代码不正确",
        "Not a valid unified social credit code",
    ),
    (
        "err.invalid_url",
        "请输入以 http:// 或 https:// 开头的网址",
        "Enter an address starting with http:// or https://",
    ),
    ("err.too_long", "内容过长", "Too long"),
    (
        "err.invalid_choice",
        "请从列表中选择",
        "Choose a value from the list",
    ),
    (
        "err.invalid_amount",
        "金额格式不正确，最多两位小数",
        "Not a valid amount (at most two decimals)",
    ),
    ("err.invalid_date", "日期格式不正确", "Not a valid date"),
    (
        "err.invalid_reference",
        "引用的记录不存在",
        "The referenced record does not exist",
    ),
    (
        "err.field_not_writable",
        "您的角色不能修改此字段",
        "Your role may not change this field",
    ),
    (
        "err.owner_out_of_scope",
        "不能指定该负责人",
        "You may not assign that owner",
    ),
    (
        "err.invalid_tag",
        "标签为 1-40 个字符，不含引号",
        "Tags are 1-40 characters without quotes",
    ),
    (
        "err.password_too_short",
        "密码至少 12 个字符",
        "A password has at least 12 characters",
    ),
    (
        "err.wrong_password",
        "当前密码不正确",
        "The current password is not correct",
    ),
    (
        "err.invalid_code",
        "验证码不正确",
        "The code is not correct",
    ),
    (
        "err.forbidden",
        "您没有执行此操作的权限",
        "You are not allowed to do this",
    ),
];

fn table() -> &'static HashMap<&'static str, (&'static str, &'static str)> {
    static T: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    T.get_or_init(|| {
        TEXT.iter()
            .chain(activities::TEXT)
            .chain(sales::TEXT)
            .chain(documents::TEXT)
            .chain(merges::TEXT)
            .chain(operations::TEXT)
            .map(|(k, zh, en)| (*k, (*zh, *en)))
            .collect()
    })
}

/// Translate a key; unknown keys come back as themselves (visible, so they get fixed).
pub fn t(lang: Lang, key: &str) -> String {
    match table().get(key) {
        Some((zh, en)) => match lang {
            Lang::Zh => (*zh).to_string(),
            Lang::En => (*en).to_string(),
        },
        None => key.to_string(),
    }
}

pub fn has(key: &str) -> bool {
    table().contains_key(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language() {
        assert_eq!(Lang::from_accept("en-US,en;q=0.9"), Some(Lang::En));
        assert_eq!(
            Lang::from_accept("fr, zh-CN;q=0.8, en;q=0.5"),
            Some(Lang::Zh)
        );
        assert_eq!(Lang::from_accept("de"), None);
    }

    #[test]
    fn keys_are_unique() {
        assert_eq!(
            table().len(),
            TEXT.len()
                + activities::TEXT.len()
                + sales::TEXT.len()
                + documents::TEXT.len()
                + merges::TEXT.len()
                + operations::TEXT.len()
        );
    }
}
