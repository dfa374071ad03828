// @ts-check
// The shapes the player works with: the candidate API's replies (docs/candidate-api.md),
// response values (docs/response-shapes.md) and the player's own records. Types only; the
// other modules import them with `import("./types.js")` in JSDoc, so nothing loads this
// file at run time.

/**
 * The attempt this tab is signed in to (kept in sessionStorage), with what the lookup said
 * about who takes it (the attempt's own reply does not carry the names).
 * @typedef {object} Session
 * @property {string} attemptId
 * @property {string} credential  sent as X-Attempt-Token on every call about the attempt
 * @property {string} [accessCode]  asked again (lookup) for the result once the test ends
 * @property {string | null} [candidateName]
 * @property {string | null} [organizationName]
 * @property {string | null} [organizationLogoUrl]
 * @property {string | null} [organizationStyleUrl]
 */

/**
 * @typedef {"scheduled" | "in_progress" | "paused" | "submitted" | "expired" | "terminated"
 *   | "scoring" | "scored" | "released" | "invalidated"} AttemptState
 */

/**
 * @typedef {object} Attempt
 * @property {string} id
 * @property {AttemptState} state
 * @property {boolean} paused
 * @property {"proctor" | "break" | "break_counted" | null} [pause_kind]  why it is paused:
 *   a proctor (the clock stops), a break that stops the clock, one during which it runs
 * @property {"submitted" | "expired" | "terminated" | null} [ended_because]
 */

/**
 * @typedef {"choice" | "text_entry" | "numeric_entry" | "inline_choice" | "order" | "match"
 *   | "associate" | "gap_match" | "hottext" | "hotspot" | "select_point" | "extended_text"
 *   | "upload" | "slider" | "graphic_order" | "graphic_associate" | "graphic_gap_match"
 *   | "end_attempt" | "media" | "drawing" | "position_object" | "portable_custom"} InteractionType
 */

/** A template or context variable a PCI names, bound as QTI JSON by the frame (render/pci.py).
 * @typedef {{name: string, cardinality: string, base_type?: string | null, value?: any, fields?: {name: string, base_type: string, value?: any}[] | null}} PciVariable */

/**
 * One interaction of a rendered item, as described by the server's candidate view.
 * @typedef {object} InteractionDescription
 * @property {InteractionType} type
 * @property {string} response_identifier
 * @property {"single" | "multiple" | "ordered" | "record" | null} cardinality
 * @property {string | null} base_type
 * @property {string} dom_id  the id of the interaction's fieldset (or its only control)
 * @property {{width?: number, height?: number, alt?: string} | null} [graphic]  the picture of hotspot and select point (its own size in pixels, which points are measured in)
 * @property {{max_choices?: number | null, max_associations?: number | null, max_plays?: number | null, min_plays?: number | null, autostart?: boolean | null} | null} [limits]
 * @property {AreaOption[]} [options]
 * @property {AreaOption[]} [hotspots]  the areas of a graphic gap match
 * @property {{kind: string, src?: string | null} | null} [media]  the sound or video of a media interaction
 * @property {string | null} [button_label]  the text of an end attempt button
 * @property {{type_identifier: string, module?: string | null, modules: {id: string, urls: string[]}[], markup: string, properties: {[name: string]: string}, frame_stylesheets?: string[], template_variables?: PciVariable[], context_variables?: PciVariable[]} | null} [pci]  a PCI's modules and configuration (interaction-pci.js)
 */

/**
 * An option of an interaction; the areas of graphic interactions carry their label, shape
 * and coordinates (in the picture's own pixels).
 * @typedef {object} AreaOption
 * @property {string} identifier
 * @property {number | null} [match_max]
 * @property {string} [label]
 * @property {string | null} [shape]
 * @property {number[]} [coords]
 */

/**
 * An item as the candidate sees it: sanitized HTML and its interactions, no answer key.
 * @typedef {object} CandidateItem
 * @property {string} html
 * @property {string | null} [language]
 * @property {InteractionDescription[]} interactions
 * @property {import("./stimulus.js").CandidateStimulus[] | null} [stimuli]  shown beside it
 */

/** @typedef {[number, number]} Point */

/**
 * A stored file (the server sets it once an upload is stored).
 * @typedef {object} UploadedFile
 * @property {string} sha256
 * @property {string} name
 * @property {string} content_type
 * @property {number} size
 */

/** @typedef {string | number | boolean | Point} ResponseScalar */

/**
 * An item with several interactions: a value per response identifier.
 * @typedef {{[identifier: string]: ResponseValue}} ResponseRecord
 */

/**
 * A response in its documented shape; `null` is no response.
 * @typedef {null | ResponseScalar | ResponseScalar[] | UploadedFile | ResponseRecord} ResponseValue
 */

/**
 * @typedef {object} StoredResponse
 * @property {number} seq
 * @property {ResponseValue} value
 * @property {boolean | null} flagged
 * @property {number | null} time_spent_ms
 */

/**
 * @typedef {object} ViewItem
 * @property {string} ref  the item's identifier on this form
 * @property {number} position
 * @property {CandidateItem} item
 * @property {StoredResponse | null} response
 * @property {import("./feedback.js").FeedbackEntry[]} [feedback]  only once the policy shows it
 */

/**
 * `GET /api/v1/attempts/{id}`.
 * @typedef {object} AttemptView
 * @property {Attempt} attempt
 * @property {number | null} remaining_s
 * @property {"free" | "linear"} navigation
 * @property {boolean} allow_review
 * @property {boolean} allow_flags
 * @property {string | null} title
 * @property {number} item_count  the items presented so far (adaptive tests add them one at a time)
 * @property {number} current_position
 * @property {boolean} [more_items]  an adaptive test may still give items after the last one
 * @property {ViewItem[]} items  none while the attempt is paused
 * @property {BreakAllowance} breaks  the break button shows only when `allowed`
 * @property {string | null} [locale]  the language the attempt is delivered in
 * @property {string[]} [locales]  the languages the candidate may switch to ([]: none)
 * @property {"none" | "after_item" | "after_test"} [feedback]  when feedback is shown
 */

/**
 * The breaks the candidate may take (the attempt's `breaks`).
 * @typedef {object} BreakAllowance
 * @property {boolean} allowed
 * @property {number} remaining  breaks left
 * @property {number} max_break_s  how long one break may last (then it ends by itself)
 * @property {boolean} count_against_time  the clock runs during a break
 */

/**
 * `POST /api/v1/attempts/lookup`: what an access code opens, starting nothing.
 * @typedef {object} Lookup
 * @property {string | null} candidate_name
 * @property {string} organization_name
 * @property {string | null} [organization_logo_url]  a same-origin picture
 * @property {string | null} [organization_style_url]  a same-origin stylesheet (brand colour)
 * @property {LookupAssessment} assessment
 * @property {{title: string, opens_at: string, closes_at: string, cancelled: boolean}} administration
 * @property {number} attempts_used
 * @property {number} attempts_allowed
 * @property {LookupAttempt[]} attempts  oldest first
 * @property {"start" | "resume" | "none"} next_step
 * @property {string | null} live_attempt_id
 * @property {string | null} blocked_by  with `none`: the problem code a start would get
 */

/**
 * @typedef {object} LookupAssessment
 * @property {string} title
 * @property {string | null} instructions
 * @property {number | null} time_limit_s
 * @property {number | null} candidate_time_limit_s  with the candidate's extra time
 * @property {number} question_count
 * @property {"free" | "linear"} navigation
 * @property {boolean} allow_review
 * @property {boolean} allow_flags
 * @property {{allowed: boolean, max_breaks: number, max_break_s: number, count_against_time: boolean}} breaks
 */

/**
 * One of the candidate's attempts, with its result once released.
 * @typedef {object} LookupAttempt
 * @property {string} id
 * @property {number} number
 * @property {AttemptState} state
 * @property {string | null} started_at
 * @property {string | null} ended_at
 * @property {"submitted" | "expired" | "terminated" | null} ended_because
 * @property {boolean} result_released
 * @property {Result | null} result
 */

/**
 * `POST /api/v1/attempts`.
 * @typedef {object} Started
 * @property {Attempt} attempt
 * @property {string} credential
 * @property {string | null} [locale]  the language the attempt is delivered in
 * @property {string[]} [locales]  the languages the candidate may switch to
 */

/**
 * `GET /api/v1/attempts/{id}/result`, once released.
 * @typedef {object} Result
 * @property {number} raw
 * @property {number} max_raw
 * @property {Object<string, {scaled?: number | null, scaled_se?: number | null}>} [sections]
 *   per section; an adaptive section's carry its scaled ability estimate and SE
 * @property {string | null} [band]
 * @property {boolean | null} [passed]
 * @property {ItemFeedback[]} [feedback]
 */

/**
 * What the people who scored an answer wrote to the candidate, and the rubric level it
 * reached on each criterion (never who scored it).
 * @typedef {object} ItemFeedback
 * @property {string} item_ref
 * @property {number} position
 * @property {string[]} comments
 * @property {{criterion: string, level: string, descriptor: string}[]} criteria
 */

/**
 * A save's reply: `{"accepted": false}` means a newer save is already stored.
 * @typedef {object} SaveReply
 * @property {boolean} accepted
 * @property {number} [seq]
 * @property {number} current_seq
 */

/**
 * A refused request (an RFC 9457 problem). `code` is the last segment of the problem's
 * `type` (`attempt-paused`, `item-closed`, ...): match it or the status, never `detail`,
 * which is a sentence for people and may change.
 * @typedef {object} Problem
 * @property {number} status
 * @property {string} code
 * @property {string | null} detail  `detail`, else `title`: for logs, never matched nor shown
 * @property {string | null} requestId  the request's id (`request_id`, else `X-Request-ID`),
 *   given to the candidate to quote to support
 * @property {Record<string, unknown>} body
 */

/**
 * @template T
 * @typedef {{ok: true, body: T} | {ok: false, problem: Problem}} Reply
 */

/**
 * The newest response and flag of an item made in this tab.
 * @typedef {object} Answer
 * @property {ResponseValue} value
 * @property {boolean} flagged
 */

/**
 * A save waiting in the queue (the body of `PUT .../responses/{ref}` and its ref).
 * @typedef {object} Save
 * @property {string} ref
 * @property {number} seq
 * @property {ResponseValue} value
 * @property {boolean} flagged
 * @property {number} time_spent_ms
 */

/**
 * @typedef {object} SaveState
 * @property {number} pending  saves still queued
 * @property {boolean} saving
 * @property {boolean} offline
 * @property {string | null} [error]
 */

/**
 * What the player does about a refused save: sign in again (`credential`), end the test
 * (`late`), wait (`paused`), or drop it and say so (`closed`, `invalid`).
 * @typedef {"credential" | "late" | "paused" | "closed" | "invalid"} Refusal
 */

/**
 * What an interaction module gets to wire up the controls of an item just shown.
 * @typedef {object} ShownItem
 * @property {ViewItem} item
 * @property {ResponseValue | undefined} value  this interaction's response as shown
 */

/**
 * An interaction family: how to read its controls into a response, write a stored
 * response back, and (optionally) add behaviour to its controls once they are shown.
 * @typedef {object} InteractionFamily
 * @property {readonly InteractionType[]} types
 * @property {readonly InteractionType[]} [typed]  types answered by typing: saved after a pause
 * @property {(el: HTMLElement, d: InteractionDescription) => ResponseValue | undefined} read
 *   `undefined`: the response cannot be read from the controls (uploads)
 * @property {(el: HTMLElement, d: InteractionDescription, value: ResponseValue) => void} write
 * @property {(el: HTMLElement, d: InteractionDescription, shown: ShownItem) => void} [enhance]
 */

export {};
