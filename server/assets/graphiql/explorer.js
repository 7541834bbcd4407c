// The explorer's glue: a GraphiQL whose requests carry the token typed in
// the bar, over HTTP (Authorization header) and over /graphql/ws
// (graphql-transport-ws, the token in the connection_init payload).
(function () {
  'use strict';
  var STORAGE_KEY = 'optralis.explorer.token';
  var endpoint = new URL('/graphql', window.location.href).toString();
  var socket = new URL('/graphql/ws', window.location.href);
  socket.protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:';

  var form = document.getElementById('explorer-auth');
  var input = document.getElementById('explorer-token');
  var state = document.getElementById('explorer-state');
  // Session storage: the token survives a reload, not the browser.
  try {
    input.value = window.sessionStorage.getItem(STORAGE_KEY) || '';
  } catch (e) {
    // storage disabled: the field starts empty
  }

  function currentToken() {
    return input.value.trim().replace(/^bearer\s+/i, '');
  }

  // The explorer authenticates with the token only: cookies of a
  // dashboard session on the same site are not sent with its requests.
  function tokenFetch(url, options) {
    return window.fetch(url, Object.assign({}, options, { credentials: 'omit' }));
  }

  var base = GraphiQL.createFetcher({
    url: endpoint,
    subscriptionUrl: socket.toString(),
    fetch: tokenFetch,
  });

  // GraphiQL passes the headers editor's headers with each operation, and
  // uses them as the connection_init payload when it opens a socket for a
  // subscription: the token is added to both.
  function fetcher(params, options) {
    var token = currentToken();
    var merged = Object.assign({}, options);
    merged.headers = Object.assign({}, options && options.headers);
    if (token) merged.headers.Authorization = 'Bearer ' + token;
    // GraphiQL picks the socket for subscriptions from the editor's parsed
    // document, which lags a fast Ctrl-Enter after an edit: parse what is
    // actually sent instead.
    try {
      merged.documentAST = GraphiQL.GraphQL.parse(params.query);
    } catch (e) {
      // not a valid document: the server will say why
    }
    return base(params, merged);
  }

  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  var generation = 0;
  function render() {
    generation += 1;
    state.textContent = currentToken()
      ? 'Token set: requests and subscriptions carry it.'
      : 'No token: schema and docs stay hidden until you set one.';
    // A new key remounts GraphiQL, which fetches the schema again with
    // the new token (introspection is refused to anonymous callers).
    root.render(
      React.createElement(GraphiQL, {
        key: 'explorer-' + generation,
        fetcher: fetcher,
        defaultQuery: '# Set a Bearer token above, then run an operation (Ctrl-Enter).\n{\n  serverInfo {\n    version\n  }\n}\n',
        defaultEditorToolsVisibility: false,
        shouldPersistHeaders: false,
      }),
    );
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    try {
      window.sessionStorage.setItem(STORAGE_KEY, currentToken());
    } catch (e) {
      // storage disabled: the token lives until the page is closed
    }
    render();
  });
  render();
})();
