//! The gateway as the agent's MCP server: `tools/list` filtered, `tools/call` judged,
//! everything else (resources, prompts, completion, logging level) forwarded as is.
//! Methods the gateway does not know are refused, never passed on unjudged.

use super::catalog::Known;
use super::review;
use super::upstream::{complete, fit_to_client, forward, upstream_error, Relay};
use super::Shared;
use crate::{Caller, Mapping, ToolCall, Verdict};
use rmcp::model::*;
use rmcp::service::{NotificationContext, RequestContext, RoleServer};
use rmcp::ServerHandler;
use std::sync::Arc;

/// One downstream session's handler. `caller` is fixed for stdio (the token the
/// gateway was started with); over HTTP it comes from each request's bearer token.
#[derive(Clone)]
pub struct GatewayHandler {
    pub(crate) shared: Arc<Shared>,
    pub(crate) caller: Option<Caller>,
}

fn opt_request<M: Default, P>(params: Option<P>) -> RequestOptionalParam<M, P> {
    RequestOptionalParam {
        method: M::default(),
        params,
        extensions: Default::default(),
    }
}

fn unexpected(what: &str) -> ErrorData {
    ErrorData::internal_error(
        format!("the upstream MCP server answered {what} with a result of another kind"),
        None,
    )
}

/// Whether the client speaks a revision before 2026-07-28.
fn legacy(ctx: &RequestContext<RoleServer>) -> bool {
    ctx.protocol_version()
        .is_none_or(|v| v.as_str() < ProtocolVersion::V_2026_07_28.as_str())
}

impl GatewayHandler {
    fn relay(&self) -> &Relay {
        &self.shared.relay
    }

    /// Who is calling: the stdio caller, or the one the HTTP layer authenticated.
    fn caller(&self, ctx: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
        if let Some(c) = &self.caller {
            return Ok(c.clone());
        }
        ctx.extensions
            .get::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<Caller>())
            .cloned()
            .ok_or_else(|| {
                ErrorData::invalid_request("no parapet token: send Authorization: Bearer", None)
            })
    }

    /// The caller's credentials still hold; otherwise the request is refused.
    async fn still_valid(&self, ctx: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
        let caller = self.caller(ctx)?;
        if let Err(e) = self.shared.gate.still_valid(&caller).await {
            tracing::info!(actor = %caller.actor, error = %e, "refused: the parapet token no longer holds");
            return Err(ErrorData::invalid_request(
                format!("the parapet token of this session no longer holds ({e}); nothing was forwarded"),
                None,
            ));
        }
        Ok(caller)
    }

    async fn pass(
        &self,
        request: ClientRequest,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<ServerResult, ErrorData> {
        let caller = self.still_valid(ctx).await?;
        if let ClientRequest::ReadResourceRequest(r) = &request {
            // Not judged (resources are the server's context, not actions), but traced:
            // the URI without its query, which may carry a secret.
            let uri = r.params.uri.split(['?', '#']).next().unwrap_or_default();
            tracing::info!(actor = %caller.actor, uri = ?uri, "resources/read");
        }
        self.relay().set_downstream(&ctx.peer);
        let mut result = tokio::select! {
            r = forward(&self.shared.upstream, request, self.shared.settings.call_timeout) => r?,
            _ = ctx.ct.cancelled() => return Err(ErrorData::internal_error("cancelled by the client", None)),
        };
        fit_to_client(&mut result, legacy(ctx));
        Ok(result)
    }

    /// Forward an allowed call and relay its progress to the client.
    pub(crate) async fn forward_call(
        &self,
        mut params: CallToolRequestParams,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.relay().set_downstream(&ctx.peer);
        params.meta = None; // the client's _meta describes its session with us, not ours upstream
        let request = ClientRequest::CallToolRequest(Request::new(params));
        let options =
            rmcp::service::PeerRequestOptions::with_timeout(self.shared.settings.call_timeout);
        let handle = self
            .shared
            .upstream
            .send_request_with_option(request, options)
            .await
            .map_err(upstream_error)?;
        let upstream_token = handle.progress_token.clone();
        if let Some(token) = ctx.meta.get_progress_token() {
            self.relay()
                .track_progress(upstream_token.clone(), ctx.peer.clone(), token);
        }
        let id = handle.id.clone();
        let peer = handle.peer.clone();
        let result = tokio::select! {
            r = handle.await_response() => r.map_err(upstream_error),
            _ = ctx.ct.cancelled() => {
                let _ = peer
                    .notify_cancelled(CancelledNotificationParam::new(
                        Some(id),
                        Some("cancelled by the client".into()),
                    ))
                    .await;
                Err(ErrorData::internal_error("cancelled by the client", None))
            }
        };
        self.relay().forget_progress(&upstream_token);
        match complete(result?) {
            ServerResult::CallToolResult(r) => Ok(CallToolResponse::Complete(r)),
            ServerResult::InputRequiredResult(r) => Ok(CallToolResponse::InputRequired(r)),
            ServerResult::CreateTaskResult(r) => Ok(CallToolResponse::Task(r)),
            _ => Err(unexpected("tools/call")),
        }
    }

    async fn call(
        &self,
        mut params: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = self.caller(&ctx)?;
        // A retry after our own review round (2026-07-28): not the upstream's state.
        let review_round = review::take_round(&mut params)?;
        let known = self
            .shared
            .tools
            .knows(
                &params.name,
                &self.shared.upstream,
                self.shared.settings.call_timeout,
            )
            .await;
        match known {
            Known::Yes => {}
            Known::No => {
                tracing::info!(actor = %caller.actor, tool = ?params.name, "tools/call refused: unknown tool");
                return Err(ErrorData::invalid_params(
                    format!(
                        "unknown tool {:?}: the server {} offers no tool of that name (see tools/list)",
                        params.name, self.shared.server
                    ),
                    None,
                ));
            }
            // Judged as any call is: the gate decides, and an unmapped tool waits.
            Known::Unsure(e) => {
                tracing::warn!(tool = ?params.name, error = %e, "could not read the server's tools")
            }
        }
        let empty = serde_json::Map::new();
        let arguments = params.arguments.as_ref().unwrap_or(&empty);
        let server = self.shared.server.as_str();
        let call = ToolCall {
            server,
            tool: &params.name,
            arguments,
        };
        let mapping = self.shared.gate.map(&call);
        // A tool hidden from this caller is refused whatever the arguments: arguments a
        // mapping cannot read would otherwise go to review, and could be approved.
        // (Readable ones map to the actions that hid it, and an unmapped tool is judged
        // as the write that hid it: both are refused by the policy, with its reason.)
        if matches!(mapping, Mapping::Unreadable { .. }) {
            let actions = self.shared.gate.static_actions(server, &params.name);
            let visible = self
                .shared
                .gate
                .visible(&caller, server, &params.name, actions.as_deref())
                .await;
            if !matches!(visible, Ok(true)) {
                tracing::info!(actor = %caller.actor, server, tool = ?params.name, "tools/call refused: hidden tool");
                let why = match visible {
                    Err(e) => format!("whether this caller may use it could not be decided ({e})"),
                    _ => "policy refuses it to this caller whatever its arguments (it is hidden from tools/list)".into(),
                };
                return Ok(CallToolResponse::Complete(review::denied(
                    &params.name,
                    None,
                    &why,
                )));
            }
        }
        let verdict = self.shared.gate.judge(&caller, &call, &mapping).await;
        let shown = match &verdict {
            Ok(v) => review::outcome(v),
            Err(e) => format!("unjudged: {e}"),
        };
        tracing::info!(
            actor = %caller.actor,
            server,
            tool = ?params.name,
            // Names only: values can hide secrets anywhere (a command line's
            // `--value`), and the decision record holds the masked arguments.
            arguments = ?arguments.keys().collect::<Vec<_>>(),
            verdict = ?shown,
            "tools/call"
        );
        let verdict = match verdict {
            Ok(v) => v,
            Err(e) => {
                return Ok(CallToolResponse::Complete(CallToolResult::error(vec![
                    ContentBlock::text(format!(
                        "parapet refused {}: the call could not be judged ({e}); nothing was run",
                        params.name
                    )),
                ])))
            }
        };
        match verdict {
            Verdict::Allow { .. } => self.forward_call(params, &ctx).await,
            Verdict::Deny { decision, reason } => Ok(CallToolResponse::Complete(review::denied(
                &params.name,
                decision.as_deref(),
                &reason,
            ))),
            Verdict::Review { .. } => {
                review::Review {
                    handler: self,
                    caller: &caller,
                    params,
                    ctx: &ctx,
                    round: review_round,
                }
                .run(verdict)
                .await
            }
        }
    }
}

impl ServerHandler for GatewayHandler {
    fn get_info(&self) -> ServerConfig {
        let up = &self.shared.upstream_info;
        let mut caps = up.capabilities.clone();
        // Tasks and other extensions are not relayed: a task would run unjudged polls.
        caps.extensions = None;
        caps.experimental = None;
        // Nor are resource subscriptions: an update for one client's subscription would
        // reach whichever client spoke last, and a 2026-07-28 server has no
        // resources/subscribe for a 2025-11-25 client's request.
        if let Some(resources) = caps.resources.as_mut() {
            resources.subscribe = None;
        }
        let mut info = ServerConfig::new(caps);
        info.server_info = up
            .server_info
            .clone()
            .unwrap_or_else(|| Implementation::new(self.shared.server.clone(), "unknown"));
        info.instructions = up.instructions.clone();
        info
    }

    async fn ping(&self, _ctx: RequestContext<RoleServer>) -> Result<(), ErrorData> {
        Ok(())
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = self.still_valid(&ctx).await?;
        let request = ClientRequest::ListToolsRequest(opt_request(request));
        let ServerResult::ListToolsResult(mut result) = self.pass(request, &ctx).await? else {
            return Err(unexpected("tools/list"));
        };
        self.shared.tools.saw(result.tools.iter().map(|t| &*t.name));
        if !legacy(&ctx) {
            // Filtered for this caller: no shared cache may serve it to another.
            result.cache_scope = Some(CacheScope::Private);
        }
        let server = self.shared.server.as_str();
        let mut kept = Vec::with_capacity(result.tools.len());
        for tool in std::mem::take(&mut result.tools) {
            let actions = self.shared.gate.static_actions(server, &tool.name);
            match self
                .shared
                .gate
                .visible(&caller, server, &tool.name, actions.as_deref())
                .await
            {
                Ok(true) => kept.push(tool),
                Ok(false) => tracing::debug!(tool = ?tool.name, actor = %caller.actor, "hidden"),
                Err(e) => {
                    // Fail closed: a tool we cannot decide on is not offered.
                    tracing::warn!(tool = ?tool.name, error = %e, "hidden: visibility unknown")
                }
            }
        }
        result.tools = kept;
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.call(request, ctx).await
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        match self
            .pass(ClientRequest::CompleteRequest(Request::new(request)), &ctx)
            .await?
        {
            ServerResult::CompleteResult(r) => Ok(r),
            _ => Err(unexpected("completion/complete")),
        }
    }

    #[allow(deprecated)] // logging is deprecated by SEP-2577 but still relayed
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.pass(ClientRequest::SetLevelRequest(Request::new(request)), &ctx)
            .await
            .map(|_| ())
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        match self
            .pass(ClientRequest::GetPromptRequest(Request::new(request)), &ctx)
            .await?
        {
            ServerResult::GetPromptResult(r) => Ok(GetPromptResponse::Complete(r)),
            ServerResult::InputRequiredResult(r) => Ok(GetPromptResponse::InputRequired(r)),
            _ => Err(unexpected("prompts/get")),
        }
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        match self
            .pass(
                ClientRequest::ListPromptsRequest(opt_request(request)),
                &ctx,
            )
            .await?
        {
            ServerResult::ListPromptsResult(r) => Ok(r),
            _ => Err(unexpected("prompts/list")),
        }
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        match self
            .pass(
                ClientRequest::ListResourcesRequest(opt_request(request)),
                &ctx,
            )
            .await?
        {
            ServerResult::ListResourcesResult(r) => Ok(r),
            _ => Err(unexpected("resources/list")),
        }
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        match self
            .pass(
                ClientRequest::ListResourceTemplatesRequest(opt_request(request)),
                &ctx,
            )
            .await?
        {
            ServerResult::ListResourceTemplatesResult(r) => Ok(r),
            _ => Err(unexpected("resources/templates/list")),
        }
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        match self
            .pass(
                ClientRequest::ReadResourceRequest(Request::new(request)),
                &ctx,
            )
            .await?
        {
            ServerResult::ReadResourceResult(r) => Ok(ReadResourceResponse::Complete(r)),
            ServerResult::InputRequiredResult(r) => Ok(ReadResourceResponse::InputRequired(r)),
            _ => Err(unexpected("resources/read")),
        }
    }

    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        // A method of MCP arrives here when its params do not have MCP's shape (the SDK
        // could not read them): say that, not that the method is unknown.
        const MCP_METHODS: &[&str] = &[
            "initialize",
            "ping",
            "tools/list",
            "tools/call",
            "resources/list",
            "resources/templates/list",
            "resources/read",
            "prompts/list",
            "prompts/get",
            "completion/complete",
            "logging/setLevel",
        ];
        if MCP_METHODS.contains(&request.method.as_str()) {
            let shape = match request.method.as_str() {
                "tools/call" => " (tools/call: {\"name\": string, \"arguments\": object})",
                _ => "",
            };
            return Err(ErrorData::invalid_params(
                format!(
                    "the params of {} are not what MCP specifies{shape}",
                    request.method
                ),
                None,
            ));
        }
        // Not forwarded: a method nobody judges could act unjudged.
        Err(ErrorData::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!(
                "method {:?} is not part of MCP as the parapet gateway speaks it",
                request.method
            ),
            None,
        ))
    }

    async fn on_roots_list_changed(&self, _ctx: NotificationContext<RoleServer>) {
        let n = ClientNotification::RootsListChangedNotification(Default::default());
        let _ = self.shared.upstream.send_notification(n).await;
    }
}
